import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { ConsulConnection, type ReregisterEvent, ServiceRegistration } from '@meshless/consul';
import { ConsulDevAgent, freePort } from '@meshless/consul/testing';
import { once } from '@meshless/core';
import { createMesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { consulAddress, eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// Self-registration against a real Consul agent: what the catalog shows, TTL expiry, drain,
// deregistration, and recovery after the agent restarts and forgets everything (dev mode).

const addCleanup = useCleanupsAndNoUnhandledRejections();

function connect(address = consulAddress()): ConsulConnection {
  const connection = new ConsulConnection({ address });
  addCleanup(() => connection.close());
  return connection;
}

function register(
  connection: ConsulConnection,
  name: string,
  n: number,
  extra: Partial<ConstructorParameters<typeof ServiceRegistration>[0]> = {},
): ServiceRegistration {
  const reg = new ServiceRegistration({
    connection,
    service: { name, id: `${name}-${n}`, address: '127.0.0.1', port: 9000 + n, version: 'v1', zone: 'eu-1a' },
    ttlMs: 1500,
    ...extra,
  });
  addCleanup(() => reg.deregister());
  return reg;
}

interface HealthEntry {
  Service: { ID: string; Meta: Record<string, string>; Weights: { Passing: number; Warning: number } };
  Checks: { CheckID: string; Status: string; Output: string }[];
}

async function passingIds(connection: ConsulConnection, name: string): Promise<string[]> {
  const list = await connection.json<HealthEntry[]>({
    path: `/v1/health/service/${name}`,
    query: { passing: true },
  });
  return list.map((e) => e.Service.ID).sort();
}

const uniqueName = (what: string) => `reg-${what}-${randomUUID().slice(0, 8)}`;

describe('ServiceRegistration on a real Consul', () => {
  it('registers passing at once, with meta, weights and the owner-updated extra check', async () => {
    const connection = connect();
    const name = uniqueName('shape');
    const reg = register(connection, name, 1, {
      service: {
        name,
        id: `${name}-1`,
        address: '127.0.0.1',
        port: 9001,
        version: 'v2',
        zone: 'eu-1b',
        region: 'eu-1',
        weight: 4,
        meta: { team: 'shop' },
      },
      extraChecks: [{ id: `governance:${name}-1`, name: 'meshless governance' }],
    });
    await reg.start();
    expect(await passingIds(connection, name)).toEqual([`${name}-1`]);

    expect(
      await reg.updateCheck(`governance:${name}-1`, 'warning', 'services/x/routes: to: weights sum to 90'),
    ).toBe(true);
    const [entry] = await connection.json<HealthEntry[]>({ path: `/v1/health/service/${name}` });
    expect(entry!.Service.Meta).toEqual({
      team: 'shop',
      version: 'v2',
      zone: 'eu-1b',
      region: 'eu-1',
      weight: '4',
    });
    expect(entry!.Service.Weights).toEqual({ Passing: 4, Warning: 1 });
    expect(entry!.Checks.find((c) => c.CheckID === `governance:${name}-1`)).toMatchObject({
      Status: 'warning',
      Output: 'services/x/routes: to: weights sum to 90',
    });
    // A warning check takes the instance out of ?passing (Consul's rule, not ours).
    expect(await passingIds(connection, name)).toEqual([]);
  });

  it('a stopped heartbeat goes critical within about the TTL; deregister removes at once', async () => {
    const connection = connect();
    const name = uniqueName('ttl');
    const regs = [1, 2, 3].map((n) => register(connection, name, n));
    await Promise.all(regs.map((r) => r.start()));
    expect(await passingIds(connection, name)).toEqual([`${name}-1`, `${name}-2`, `${name}-3`]);

    const stoppedAt = Date.now();
    regs[1]!.dispose(); // a crash: no deregistration
    await eventually(async () => (await passingIds(connection, name)).length === 2, 5000, 'TTL expiry');
    expect(Date.now() - stoppedAt).toBeLessThan(1500 + 1500);
    // Still in the catalog (critical) until Consul's reaper deregisters it after a minute.
    const all = await connection.json<HealthEntry[]>({ path: `/v1/health/service/${name}` });
    expect(all.map((e) => e.Service.ID)).toContain(`${name}-2`);

    await regs[2]!.deregister();
    expect(await passingIds(connection, name)).toEqual([`${name}-1`]);
    expect(regs[2]!.status()).toMatchObject({ registered: false });
    await regs[2]!.deregister(); // idempotent
  });

  it('drain() takes the instance out of ?passing within about a second and waits drainMs', async () => {
    const connection = connect();
    const name = uniqueName('drain');
    const reg = register(connection, name, 1);
    await reg.start();
    const began = Date.now();
    const drained = reg.drain({ drainMs: 2500 });
    await eventually(async () => (await passingIds(connection, name)).length === 0, 3000, 'out of ?passing');
    expect(Date.now() - began).toBeLessThan(2000);
    await drained;
    expect(Date.now() - began).toBeGreaterThanOrEqual(2500);
    expect(reg.status()).toMatchObject({ draining: true, registered: true });
  });

  it('registers again by itself after the agent is killed and restarted on the same ports', async () => {
    const agent = await ConsulDevAgent.start();
    addCleanup(() => agent.stop());
    const connection = connect(agent.address);
    const name = uniqueName('restart');
    const reg = register(connection, name, 1);
    const reregistered: ReregisterEvent[] = [];
    reg.onDidReregister((e) => reregistered.push(e));
    await reg.start();
    expect(await passingIds(connection, name)).toEqual([`${name}-1`]);

    await agent.kill9();
    await eventually(() => reg.status().failures > 0, 5000, 'a failed heartbeat');
    const next = once(reg.onDidReregister);
    await agent.restart(); // dev mode: the new agent knows nothing of us
    await next;
    expect(reregistered[0]).toMatchObject({ id: `${name}-1`, reason: expect.stringMatching(/TTL|404|not/) });
    await eventually(
      async () => (await passingIds(connection, name)).length === 1,
      10_000,
      'back in the catalog',
    );
    const catalog = await connection.json<{ ServiceID: string }[]>({ path: `/v1/catalog/service/${name}` });
    expect(catalog.map((c) => c.ServiceID)).toEqual([`${name}-1`]);
    const beats = reg.status().heartbeats;
    await eventually(() => reg.status().heartbeats > beats, 3000, 'heartbeats after recovery');
  }, 60_000);
});

describe('createMesh({ service: { httpCheck: true } }) on a real Consul', () => {
  it("registers an HTTP check that Consul runs against the mesh's health endpoint", async () => {
    const name = uniqueName('http');
    const port = await freePort();
    const mesh = await createMesh({
      consul: { address: consulAddress() },
      cacheDir: false,
      logger: 'silent',
      service: { name, port, address: '127.0.0.1', httpCheck: { intervalMs: 300 }, drainMs: 0 },
    });
    addCleanup(() => mesh.close());
    let healthHits = 0;
    const server = createServer(
      mesh.serve((_req, res) => {
        res.end('app');
      }),
    );
    server.on('request', (req) => {
      if (req.url === '/meshless/health') healthHits++;
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    addCleanup(() => new Promise<void>((r) => server.close(() => r())));
    const connection = connect();
    const httpCheck = async () =>
      (
        await connection.json<{ Status: string; Type: string; Output: string }[]>({
          path: `/v1/health/checks/${name}`,
        })
      ).find((c) => c.Type === 'http');
    // Consul itself calls the endpoint the mesh answers, and reports what it got.
    await eventually(
      async () => healthHits >= 1 && (await httpCheck())?.Output.includes('200') === true,
      10_000,
    );
    expect((await httpCheck())?.Status).toBe('passing');
    expect(await passingIds(connection, name)).toHaveLength(1);
  });
});
