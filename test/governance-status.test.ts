import { run } from '@meshless/cli';
import { createMesh, type Mesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

interface Check {
  CheckID: string;
  Status: string;
  Output: string;
}

async function instance(prefix: string, service: string, name: string, port: number): Promise<Mesh> {
  const mesh = await createMesh({
    consul: { address: consulAddress() },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: { name: service, id: `${service}-${name}`, port, address: '127.0.0.1', drainMs: 0 },
  });
  cleanup(() => mesh.close());
  return mesh;
}

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run([...args, '--consul', consulAddress()], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
  });
  return { code, stdout, stderr };
}

describe('status back to Consul', () => {
  it('turns the governance check to warning with the field path for a bad rule, and back for a good one', async () => {
    const prefix = uniquePrefix('gov');
    const service = `pricing-${prefix.slice(-8)}`;
    const mesh = await instance(prefix, service, 'a', 9001);
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    const check = async () => {
      const checks = await connection.json<Check[]>({ path: `/v1/health/checks/${service}` });
      return checks.find((c) => c.CheckID === `meshless-governance:${mesh.serviceId}`)!;
    };
    expect((await check()).Status).toBe('passing');

    const key = `${prefix}/services/${service}/routes`;
    await kv.put(key, {
      subsets: { a: { meta: { version: 'v1' } } },
      routes: [{ to: [{ subset: 'a', weight: 90 }] }],
    });
    const started = Date.now();
    await eventually(async () => (await check()).Status === 'warning', 3000, 'warning');
    expect(Date.now() - started).toBeLessThan(1000);
    const warned = await check();
    expect(warned.Output).toMatch(/REJECTED .*routes.*routes\[0\]\.to/);
    // The instance stays discoverable while the governance check warns.
    const caller = await createMesh({
      consul: { address: consulAddress() },
      prefix,
      cacheDir: false,
      logger: 'silent',
    });
    cleanup(() => caller.close());
    const client = caller.client(service);
    await client.fetch('/').catch(() => {});
    await eventually(() => client.status().endpoints === 1, 5000, 'discoverable');

    await kv.put(key, {
      subsets: { a: { meta: { version: 'v1' } } },
      routes: [{ to: [{ subset: 'a', weight: 100 }] }],
    });
    await eventually(async () => (await check()).Status === 'passing', 3000, 'passing again');
  });

  it('`meshless status` shows SYNCED, STALE for a paused instance, and REJECTED', async () => {
    const prefix = uniquePrefix('status');
    const service = `search-${prefix.slice(-8)}`;
    const a = await instance(prefix, service, 'a', 9101);
    const b = await instance(prefix, service, 'b', 9102);
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    const key = `${prefix}/services/${service}/policies`;
    await kv.put(key, { timeoutMs: 100 });
    await eventually(() => [a, b].every((m) => m.status().rules.keys.length === 1));

    const paused = b.pauseRuleUpdates();
    await kv.put(key, { timeoutMs: 200 });
    await eventually(() => a.status().rules.keys[0]?.appliedIndex !== b.status().rules.keys[0]?.appliedIndex);
    const waitStatus = async (want: RegExp) => {
      let last = '';
      await eventually(
        async () => {
          last = (await cli(['status', service, '--prefix', prefix])).stdout;
          return want.test(last);
        },
        5000,
        `status ${want}`,
      );
      return last;
    };
    const out = await waitStatus(new RegExp(`${service}-a[^\\n]*SYNCED`));
    expect(out).toMatch(new RegExp(`${service}-b[^\\n]*STALE`));
    expect(out).toMatch(/SYNCED 1, STALE 1, REJECTED 0/);

    paused.dispose();
    await kv.put(key, { timeoutMs: -5 });
    // Each instance reports on its own schedule: wait until both have.
    const rejected = await waitStatus(/SYNCED 0, STALE 0, REJECTED 2/);
    expect(rejected).toMatch(new RegExp(`${service}-a[^\\n]*REJECTED`));
    expect(rejected).toMatch(new RegExp(`${service}-b[^\\n]*REJECTED`));
  });
});
