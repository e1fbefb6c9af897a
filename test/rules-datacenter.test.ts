import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '@meshless/cli';
import { ConsulConnection, ConsulKv, parseStatusEntry, statusKeyFor } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh, type Mesh, type MeshOptions } from 'meshless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

// Two real datacenters WAN-joined on loopback, as in datacenter-failover.test.ts: dc1 holds the
// rules (the governance center), the instances run on dc2's agent. The last test stops dc1.
let dc1: ConsulDevAgent;
let dc2: ConsulDevAgent;
let kv1: ConsulKv;
let kv2: ConsulKv;
const connections: ConsulConnection[] = [];
beforeAll(async () => {
  dc1 = await ConsulDevAgent.start({ args: ['-datacenter=dc1'] });
  dc2 = await ConsulDevAgent.start({ args: ['-datacenter=dc2', `-join-wan=127.0.0.1:${dc1.ports.serfWan}`] });
  const c1 = new ConsulConnection({ address: dc1.address });
  const c2 = new ConsulConnection({ address: dc2.address });
  connections.push(c1, c2);
  kv1 = new ConsulKv(c1);
  kv2 = new ConsulKv(c2);
  // KV forwarding needs dc2's server to know a path to dc1.
  await eventually(
    async () => (await c2.json<string[]>({ path: '/v1/catalog/datacenters' })).includes('dc1'),
    20_000,
    'dc2 sees dc1 over the WAN',
  );
}, 60_000);
afterAll(async () => {
  for (const c of connections) await c.close();
  await dc2?.stop();
  await dc1?.stop();
});

/** An instance on dc2's agent. */
async function inDc2(prefix: string, extra: Partial<MeshOptions> = {}): Promise<Mesh> {
  const mesh = await createMesh({
    consul: { address: dc2.address },
    prefix,
    logger: 'silent',
    service: { name: 'orders', port: 1, register: false },
    ...extra,
  });
  cleanup(() => mesh.close());
  return mesh;
}

/** The status of one rule key on an instance (keys are listed with or without the prefix). */
const keyStatus = (mesh: Mesh, key: string) => mesh.status().rules.keys.find((k) => key.endsWith(k.key));

/** Runs `meshless <args> --consul <dc2>` in-process. */
async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run([...args, '--consul', dc2.address], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
  });
  return { code, stdout, stderr };
}

describe('one governance center for two datacenters (rulesDatacenter)', () => {
  it('a dc2 instance applies rules put into dc1 live, and writes its status entries beside them', async () => {
    const prefix = uniquePrefix('rdc');
    const key = `${prefix}/services/catalog/policies`;
    // dc2's own KV holds another version: the instance must not read it.
    await kv2.put(key, { timeoutMs: 999 });
    const mesh = await inDc2(prefix, { rulesDatacenter: 'dc1', cacheDir: false });
    expect(mesh.status().rules.keys).toEqual([]);

    await kv1.put(key, { timeoutMs: 250 });
    const { modifyIndex } = (await kv1.get(key))!;
    await eventually(
      () => keyStatus(mesh, key)?.appliedIndex === modifyIndex,
      10_000,
      'the dc1 rule applied on the dc2 instance',
    );
    expect(mesh.status().rules.origin).toBe('source');

    // A rejected version: the entry goes to dc1, where operators edit, not to dc2.
    await kv1.put(key, { timeoutMs: 'soon' });
    const rejected = (await kv1.get(key))!.modifyIndex;
    const statusKey = statusKeyFor(prefix, key);
    await eventually(
      async () => parseStatusEntry((await kv1.get(statusKey))?.value ?? null)?.index === rejected,
      10_000,
      'the status entry in dc1',
    );
    expect(await kv2.get(statusKey)).toBeUndefined();
    expect(keyStatus(mesh, key)).toMatchObject({ state: 'rejected', appliedIndex: modifyIndex });
  });

  it('the CLI reads and writes dc1 rules from a dc2 agent (--datacenter or MESHLESS_RULES_DATACENTER)', async () => {
    const prefix = uniquePrefix('rdcli');
    await kv1.put(`${prefix}/services/catalog/policies`, { timeoutMs: 111 });
    await kv2.put(`${prefix}/services/catalog/policies`, { timeoutMs: 222 });

    const viaFlag = await cli([
      'get',
      'catalog',
      'policies',
      '--prefix',
      prefix,
      '--datacenter',
      'dc1',
      '--json',
    ]);
    expect(viaFlag.code).toBe(0);
    expect(JSON.parse(viaFlag.stdout).value).toEqual({ timeoutMs: 111 });
    const viaEnv = await cli(['get', 'catalog', 'policies', '--prefix', prefix, '--json'], {
      MESHLESS_RULES_DATACENTER: 'dc1',
    });
    expect(JSON.parse(viaEnv.stdout).value).toEqual({ timeoutMs: 111 });
    const own = await cli(['get', 'catalog', 'policies', '--prefix', prefix, '--json']);
    expect(JSON.parse(own.stdout).value).toEqual({ timeoutMs: 222 });

    const dir = mkdtempSync(join(tmpdir(), 'meshless-rdc-'));
    writeFileSync(join(dir, 'p.json'), JSON.stringify({ timeoutMs: 333 }));
    const written = await cli([
      'put',
      'resource',
      'db.query',
      join(dir, 'p.json'),
      '--prefix',
      prefix,
      '--datacenter',
      'dc1',
    ]);
    expect(written.code).toBe(0);
    expect((await kv1.get(`${prefix}/resources/db.query`))?.value.toString()).toContain('333');
    expect(await kv2.get(`${prefix}/resources/db.query`)).toBeUndefined();

    const empty = await cli(['get', 'catalog', 'policies', '--prefix', prefix, '--datacenter', '']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--datacenter: must not be empty');
  });

  it('MESHLESS_RULES_DATACENTER names the rules datacenter when the option does not, and meshless status --datacenter compares a dc2 instance with dc1', async () => {
    const prefix = uniquePrefix('rdenv');
    const service = `orders-${prefix.slice(-8)}`;
    const key = `${prefix}/services/${service}/inbound`;
    await kv1.put(key, { rateLimit: { perSecond: 500 } });
    const before = process.env.MESHLESS_RULES_DATACENTER;
    process.env.MESHLESS_RULES_DATACENTER = 'dc1';
    let mesh: Mesh;
    try {
      mesh = await inDc2(prefix, { cacheDir: false, service: { name: service, port: 1, ttlMs: 30_000 } });
    } finally {
      if (before === undefined) delete process.env.MESHLESS_RULES_DATACENTER;
      else process.env.MESHLESS_RULES_DATACENTER = before;
    }
    const { modifyIndex } = (await kv1.get(key))!;
    await eventually(
      () => keyStatus(mesh, key)?.appliedIndex === modifyIndex,
      10_000,
      'the dc1 rule applied',
    );

    // Instances from the dc2 agent, versions from dc1: the instance runs dc1's version.
    const states = async () => {
      const res = await cli(['status', service, '--prefix', prefix, '--datacenter', 'dc1', '--json']);
      const status = JSON.parse(res.stdout) as { instances: { keys: { key: string; state: string }[] }[] };
      return status.instances.flatMap((i) => i.keys.map((k) => `${k.key}:${k.state}`));
    };
    await eventually(async () => (await states()).join() === `${key}:SYNCED`, 10_000, 'SYNCED against dc1');
  });

  it('with dc1 unreachable, keeps the last good rules, and a new dc2 instance starts from its cache (kept apart from dc2 own)', async () => {
    const prefix = uniquePrefix('rdcc');
    const key = `${prefix}/services/catalog/policies`;
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-rdc-cache-'));
    await kv1.put(key, { timeoutMs: 400 });
    const running = await inDc2(prefix, { rulesDatacenter: 'dc1', cacheDir });
    await eventually(() => keyStatus(running, key)?.state === 'applied', 10_000, 'the dc1 rule applied');
    await eventually(
      () => readdirSync(cacheDir).some((f) => f.includes('dc-dc1') && f.endsWith('.json')),
      5000,
      'the dc1 rules cached on disk',
    );

    // dc2's own rules under the same prefix (none): an instance reading them finds no cache of its
    // own, so it applies the empty prefix instead of judging it against dc1's copy.
    const ownDc = await inDc2(prefix, { cacheDir });
    expect(ownDc.status().rules.origin).toBe('source');
    expect(ownDc.status().rules.keys).toEqual([]);
    expect(ownDc.status().rulesHeld).toBeUndefined();

    await dc1.stop();
    await eventually(() => running.status().consul.watch.failures > 0, 20_000, 'the rule watch failing');
    expect(keyStatus(running, key)?.state).toBe('applied');
    expect(running.status().rulesHeld).toBeUndefined();

    const restarted = await inDc2(prefix, { rulesDatacenter: 'dc1', cacheDir, readyTimeoutMs: 5000 });
    expect(restarted.status().rules.origin).toBe('cache');
    expect(restarted.status().rules.keys).toHaveLength(1);
    expect(keyStatus(restarted, key)?.state).toBe('applied');
  }, 60_000);
});
