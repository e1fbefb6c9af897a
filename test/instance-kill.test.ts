import { setTimeout as sleep } from 'node:timers/promises';
import { type Endpoint, MeshlessError } from 'meshless';
import { describe, expect, it } from 'vitest';
import { startBackend, startGateway } from './helpers/backends.ts';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { type InstanceProcess, startInstanceProcess } from './helpers/instance-process.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

type Instance = InstanceProcess;

/** An instance of `service` in its own process, registered in the shared Consul agent. */
async function startInstance(service: string, id: string): Promise<Instance> {
  const instance = await startInstanceProcess(consulAddress(), service, id);
  const { connection } = kvClient();
  cleanup(async () => {
    await instance.kill();
    await connection.json({ method: 'PUT', path: `/v1/agent/service/deregister/${id}` }).catch(() => {});
    await connection.close();
  });
  return instance;
}

/** The instance that got the most attempts since `since`. */
function busiest(instances: Instance[], attempts: { at: number; id: string }[], since: number): Instance {
  const count = (i: Instance) => attempts.filter((a) => a.at > since && a.id.endsWith(i.id)).length;
  return instances.reduce((best, i) => (count(i) > count(best) ? i : best));
}

async function setup(name: string, count: number) {
  const prefix = uniquePrefix(name);
  const service = `${name}-${prefix.slice(-8)}`;
  const instances = await Promise.all(
    Array.from({ length: count }, (_, i) => startInstance(service, `${service}-${'abc'[i]}`)),
  );
  const attempts: { at: number; id: string }[] = [];
  const gateway = await startGateway(prefix, {
    observers: {
      client: {
        onAttempt: (_s: string, ep: Endpoint) => attempts.push({ at: performance.now(), id: ep.id }),
      },
    },
  });
  cleanup(() => gateway.close());
  const client = gateway.client(service);
  await (await client.fetch('/warmup')).arrayBuffer();
  await eventually(() => client.status().endpoints === count, 5000, `${count} endpoints`);
  return { service, instances, client, attempts };
}

describe('an instance killed with SIGKILL (real Consul, separate processes)', () => {
  it('fails fewer than 1% of calls, and gets no attempt 1 s after its death, with no rule at all', async () => {
    const { instances, client, attempts } = await setup('kill', 3);
    // Warm: every instance has served and has a latency estimate.
    for (let i = 0; i < 30; i++) await (await client.fetch(`/warm/${i}`)).arrayBuffer();
    // 200 calls per second for 3 s, half of them POSTs (never retried by a rule); kill -9 at 1 s
    // of the instance carrying the most traffic then (P2C peak-EWMA may leave one idle a while).
    let victim = instances[0]!;
    const CALLS = 600;
    const KILL_AT = 200;
    let failed = 0;
    const errors: unknown[] = [];
    const calls: Promise<void>[] = [];
    let killedAt = Number.NaN;
    let killed: Promise<number> | undefined;
    const start = performance.now();
    for (let i = 0; i < CALLS; i++) {
      const wait = start + i * 5 - performance.now();
      if (wait > 0) await sleep(wait);
      if (i === KILL_AT) {
        killedAt = performance.now();
        victim = busiest(instances, attempts, killedAt - 250);
        killed = victim.kill();
      }
      const init =
        i % 2 === 0
          ? {}
          : { method: 'POST', body: JSON.stringify({ i }), headers: { 'content-type': 'application/json' } };
      calls.push(
        client.fetch(`/items/${i}`, init).then(
          async (res) => {
            await res.arrayBuffer();
            if (res.status !== 200) failed++;
          },
          (error: unknown) => {
            failed++;
            errors.push(error);
          },
        ),
      );
    }
    await Promise.all(calls);
    await killed;
    const toVictim = attempts.filter((a) => a.id.endsWith(victim.id));
    expect(toVictim.filter((a) => a.at < killedAt && a.at > killedAt - 250).length).toBeGreaterThan(5); // in use
    expect(failed, errors.map(String).join('\n')).toBeLessThan(CALLS / 100);
    const late = toVictim.filter((a) => a.at > killedAt + 1000);
    expect(late.map((a) => Math.round(a.at - killedAt))).toEqual([]);
  });

  it('fails with a typed connect error, naming the endpoint, when every instance is dead', async () => {
    const { service, instances, client } = await setup('dead', 2);
    for (const instance of instances) await instance.kill();
    for (const init of [{}, { method: 'POST', body: 'x' }]) {
      const error = await client.fetch('/items/1', init).catch((e: unknown) => e);
      expect(MeshlessError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({
        name: 'ConnectError',
        code: 'MESHLESS_CONNECT_ERROR',
        retryable: true,
        resource: service,
        cause: { code: 'ECONNREFUSED' },
      });
      const { address } = error as { address: string };
      expect(instances.map((i) => `127.0.0.1:${i.port}`)).toContain(address);
    }
  });
});

describe('a connection broken after the request was sent', () => {
  it('fails with a typed reset error and is not sent again without a retry rule', async () => {
    const prefix = uniquePrefix('reset');
    const service = `reset-${prefix.slice(-8)}`;
    const backend = await startBackend(service, 'v1', 'a', { prefix });
    cleanup(() => backend.stop());
    backend.behave = (req) => {
      req.socket.destroy();
      return true;
    };
    const gateway = await startGateway(prefix);
    cleanup(() => gateway.close());
    const client = gateway.client(service);
    backend.hits = 0;
    const error = await client.fetch('/orders', { method: 'POST', body: '{}' }).catch((e: unknown) => e);
    expect(MeshlessError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      name: 'ConnectionResetError',
      code: 'MESHLESS_CONNECTION_RESET',
      resource: service,
      address: `127.0.0.1:${backend.port}`,
    });
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(backend.hits).toBe(1);
  });
});
