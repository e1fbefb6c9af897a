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
  it('reports a rejected document that affects the instance in its check output, and keeps the check passing', async () => {
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

    const key = `${prefix}/services/${service}/inbound`;
    await kv.put(key, { rateLimit: { perSecond: 100 } });
    const good = (await kv.get(key))!.modifyIndex;
    await eventually(async () => (await check()).Output.includes('1 rule in force'), 3000, 'applied');
    await kv.put(key, { rateLimit: { perSecond: 100, brust: 200 } });
    const started = Date.now();
    await eventually(async () => (await check()).Output.includes('REJECTED'), 3000, 'rejection reported');
    expect(Date.now() - started).toBeLessThan(1000);
    const reported = await check();
    // People first: what, why, which version stays in force; the JSON comes last.
    expect(reported.Output.split('\n')[1]).toMatch(
      new RegExp(
        `^REJECTED ${key} version \\d+: rateLimit: .*"brust".*did you mean "burst".*version ${good} stays in force`,
      ),
    );
    expect(reported.Status).toBe('passing');

    await kv.put(key, { rateLimit: { perSecond: 100, burst: 200 } });
    await eventually(async () => !(await check()).Output.includes('REJECTED'), 3000, 'clean again');
    expect((await check()).Status).toBe('passing');
  });

  it('turns the check to warning while a document is rejected, when the instance opts in', async () => {
    const prefix = uniquePrefix('gov-warn');
    const service = `pricing-${prefix.slice(-8)}`;
    const mesh = await createMesh({
      consul: { address: consulAddress() },
      prefix,
      cacheDir: false,
      logger: 'silent',
      governance: { rejectionStatus: 'warning' },
      service: { name: service, id: `${service}-a`, port: 9002, address: '127.0.0.1', drainMs: 0 },
    });
    cleanup(() => mesh.close());
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    const check = async () => {
      const checks = await connection.json<Check[]>({ path: `/v1/health/checks/${service}` });
      return checks.find((c) => c.CheckID === `meshless-governance:${mesh.serviceId}`)!;
    };
    const key = `${prefix}/services/${service}/inbound`;
    await kv.put(key, { concurrency: { max: -1 } });
    await eventually(async () => (await check()).Status === 'warning', 3000, 'warning');
    expect((await check()).Output).toMatch(/REJECTED .*inbound.*concurrency\.max/);
    await kv.put(key, { concurrency: { max: 10 } });
    await eventually(async () => (await check()).Status === 'passing', 3000, 'passing again');
  });

  it('`meshless status` shows SYNCED, STALE for a paused instance, and REJECTED', async () => {
    const prefix = uniquePrefix('status');
    const service = `search-${prefix.slice(-8)}`;
    const a = await instance(prefix, service, 'a', 9101);
    const b = await instance(prefix, service, 'b', 9102);
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    // The service's own inbound document: it affects (and is reported by) its instances.
    const key = `${prefix}/services/${service}/inbound`;
    await kv.put(key, { rateLimit: { perSecond: 100 } });
    await eventually(() => [a, b].every((m) => m.status().rules.keys.length === 1));

    const paused = b.pauseRuleUpdates();
    await kv.put(key, { rateLimit: { perSecond: 200 } });
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
    await kv.put(key, { rateLimit: { perSecond: -5 } });
    // Each instance reports on its own schedule: wait until both have.
    const rejected = await waitStatus(/SYNCED 0, STALE 0, REJECTED 2/);
    expect(rejected).toMatch(new RegExp(`${service}-a[^\\n]*REJECTED`));
    expect(rejected).toMatch(new RegExp(`${service}-b[^\\n]*REJECTED`));
  });
});
