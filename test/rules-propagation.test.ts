import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMesh, type Mesh, policiesSection } from 'meshless';
import { afterEach, describe, expect, it } from 'vitest';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';

const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
});

async function subscribers(
  n: number,
  prefix: string,
  extra: { rulesStaleReads?: boolean } = {},
): Promise<Mesh[]> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-test-cache-'));
  const list = await Promise.all(
    Array.from({ length: n }, () =>
      createMesh({ consul: { address: consulAddress() }, prefix, cacheDir, logger: 'silent', ...extra }),
    ),
  );
  meshes.push(...list);
  return list;
}

describe('governance center on a real Consul', () => {
  it.each([false, true])(
    'applies a PUT in every subscriber (rulesStaleReads: %s)',
    async (rulesStaleReads) => {
      const prefix = uniquePrefix('put');
      const subs = await subscribers(5, prefix, { rulesStaleReads });
      const { kv, connection } = kvClient();
      await kv.put(`${prefix}/services/catalog/policies`, { timeoutMs: 250, retry: { attempts: 3 } });
      const written = await kv.get(`${prefix}/services/catalog/policies`);
      await eventually(() => subs.every((m) => m.rules.get(policiesSection, 'catalog')?.timeoutMs === 250));
      for (const m of subs) {
        expect(m.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 250, retry: { attempts: 3 } });
        expect(m.status().rules.keys[0]).toMatchObject({
          state: 'applied',
          appliedIndex: written!.modifyIndex,
        });
      }
      await connection.close();
    },
  );

  it('converges on the last of 100 writes in a row in every subscriber', async () => {
    const prefix = uniquePrefix('burst');
    const subs = await subscribers(5, prefix);
    const { kv, connection } = kvClient();
    for (let i = 1; i <= 100; i++) await kv.put(`${prefix}/services/catalog/policies`, { timeoutMs: i });
    await eventually(
      () => subs.every((m) => m.rules.get(policiesSection, 'catalog')?.timeoutMs === 100),
      10_000,
      'all subscribers at write 100',
    );
    const last = await kv.get(`${prefix}/services/catalog/policies`);
    for (const m of subs) expect(m.status().rules.keys[0]!.appliedIndex).toBe(last!.modifyIndex);
    // The blocking loop must not have issued a request per write per subscriber and then some.
    for (const m of subs) expect(m.status().consul.watch.requests).toBeLessThanOrEqual(110);
    await connection.close();
  });

  it('rejects invalid documents with field paths and keeps the last good one', async () => {
    const prefix = uniquePrefix('invalid');
    const [mesh] = await subscribers(1, prefix);
    const { kv, connection } = kvClient();
    const key = `${prefix}/services/catalog/policies`;
    await kv.put(key, { timeoutMs: 300 });
    await eventually(() => mesh!.rules.get(policiesSection, 'catalog')?.timeoutMs === 300);

    const cases: [string | Uint8Array, RegExp, string][] = [
      ['{"timeoutMs": 300,', /invalid JSON/, ''],
      ['timeoutMs: [oops', /invalid YAML/, ''],
      ['{"retry": {"attempts": 0}}', /retry\.attempts: /, 'retry.attempts'],
      ['{"breaker": {"errorPercent": 150}}', /breaker\.errorPercent: /, 'breaker.errorPercent'],
      [Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff]), /not UTF-8/, ''],
      [`{"timeoutMs": 1, "pad": "${'x'.repeat(500 * 1024)}"}`, /unknown field "pad"/, ''],
    ];
    for (const [value, message, path] of cases) {
      await kv.put(key, value);
      const { modifyIndex } = (await kv.get(key))!;
      await eventually(
        () => mesh!.status().rules.keys[0]?.rejection?.index === modifyIndex,
        5000,
        String(message),
      );
      const status = mesh!.status().rules.keys[0]!;
      expect(status.state).toBe('rejected');
      expect(status.rejection!.message).toMatch(message);
      expect(status.rejection!.path).toBe(path);
      expect(mesh!.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 300 });
    }
    expect(mesh!.status().rules.rejectedTotal).toBe(cases.length);

    // A key outside the layout is rejected, and a fix applies again.
    await kv.put(`${prefix}/services/catalog/nonsense`, '{}');
    await kv.put(key, { timeoutMs: 400 });
    await eventually(() => mesh!.rules.get(policiesSection, 'catalog')?.timeoutMs === 400);
    const unknown = mesh!.status().rules.keys.find((k) => k.key.endsWith('/nonsense'));
    expect(unknown?.rejection?.code).toBe('MESHLESS_RULE_UNKNOWN_KEY');

    // Deleting the key reverts to defaults.
    await kv.delete(key);
    await eventually(() => mesh!.rules.get(policiesSection, 'catalog') === undefined);
    await connection.close();
  });

  it('refuses a value over 512 KiB at the Consul side too (413) without disturbing subscribers', async () => {
    const prefix = uniquePrefix('big');
    const [mesh] = await subscribers(1, prefix);
    const { kv, connection } = kvClient();
    const key = `${prefix}/services/catalog/policies`;
    await kv.put(key, { timeoutMs: 10 });
    await eventually(() => mesh!.rules.get(policiesSection, 'catalog')?.timeoutMs === 10);
    await expect(kv.put(key, 'x'.repeat(512 * 1024 + 10))).rejects.toThrow(/512 KiB/);
    expect(mesh!.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 10 });
    await connection.close();
  });
});
