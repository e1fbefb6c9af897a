import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConsulConnection,
  ConsulResolver,
  type ConsulResolverOptions,
  Discovery,
  type DiscoveryThread,
  HealthWorkerHost,
  ServiceRegistration,
} from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { type Endpoint, type Logger, once } from '@meshless/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { consulAddress, eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// Discovery against a real Consul: three registered instances seen by a ConsulResolver, and how
// the resolver follows TTL expiry, deregistration, drain, an agent outage and a cold start from
// the disk cache. The failover selection across datacenters is unit-tested in packages/consul;
// here a datacenter the agent has no path to must simply be skipped.

const addCleanup = useCleanupsAndNoUnhandledRejections();

const TTL_MS = 1500;
const zones = ['eu-1a', 'eu-1b', 'eu-1c'];
const uniqueName = (what: string) => `disc-${what}-${randomUUID().slice(0, 8)}`;
const ids = (list: readonly Endpoint[]) => list.map((e) => e.id.split('/')[1]);

function connect(address = consulAddress()): ConsulConnection {
  const connection = new ConsulConnection({ address });
  addCleanup(() => connection.close());
  return connection;
}

/** Three instances of `name`: weights 1..3, zones a..c, the third on v2. */
async function threeInstances(connection: ConsulConnection, name: string): Promise<ServiceRegistration[]> {
  const regs = [1, 2, 3].map(
    (n) =>
      new ServiceRegistration({
        connection,
        service: {
          name,
          id: `${name}-${n}`,
          address: '127.0.0.1',
          port: 9000 + n,
          version: n === 3 ? 'v2' : 'v1',
          zone: zones[n - 1],
          region: 'eu-1',
          weight: n,
          tags: ['http'],
        },
        ttlMs: TTL_MS,
      }),
  );
  for (const r of regs) addCleanup(() => r.deregister());
  await Promise.all(regs.map((r) => r.start()));
  return regs;
}

/** The thread the suite runs discovery on: every scenario runs on both. */
let thread: Exclude<DiscoveryThread, 'auto'> = 'main';
/** And whether it asks the agent's cache (`?cached`). */
let cached = false;

function resolve(options: ConsulResolverOptions): ConsulResolver {
  let worker: HealthWorkerHost | undefined;
  if (thread === 'worker') {
    const host = new HealthWorkerHost(options.connection.options);
    addCleanup(() => host.dispose());
    worker = host;
  }
  const resolver = new ConsulResolver({ ...options, cached, ...(worker ? { worker, thread } : { thread }) });
  addCleanup(async () => {
    resolver.dispose();
    await resolver.stopped;
  });
  return resolver;
}

/** The next list from the resolver that satisfies `predicate`, and how long it took. */
async function nextList(
  resolver: ConsulResolver,
  predicate: (list: readonly Endpoint[]) => boolean,
  timeoutMs = 5000,
) {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const list = await Promise.race([
    once(resolver.onDidChange, predicate),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no matching endpoint list in ${timeoutMs} ms`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  return { list, ms: Date.now() - start };
}

function warnLogger() {
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (m) => warnings.push(m),
    error: (m) => warnings.push(`error ${m}`),
  };
  return { logger, warnings };
}

describe.each([
  ['main', false],
  ['worker', false],
  ['worker', true],
] as const)('ConsulResolver on a real Consul, discovery on the %s thread, ?cached %s', (on, fromCache) => {
  beforeEach(() => {
    thread = on;
    cached = fromCache;
  });

  it('sees three registered instances with their weight, meta, zone, region and datacenter', async () => {
    const connection = connect();
    const name = uniqueName('three');
    await threeInstances(connection, name);
    const resolver = resolve({ connection, service: name });
    const list = await resolver.ready();
    expect(ids(list)).toEqual([`${name}-1`, `${name}-2`, `${name}-3`]);
    list.forEach((e, i) => {
      expect(e).toMatchObject({
        service: name,
        address: '127.0.0.1',
        port: 9001 + i,
        tags: ['http'],
        weight: i + 1,
        zone: zones[i],
        region: 'eu-1',
        datacenter: 'dc1',
        meta: { version: i === 2 ? 'v2' : 'v1', zone: zones[i], region: 'eu-1', weight: String(i + 1) },
      });
      expect(e.id).toMatch(new RegExp(`^[^/]+/${name}-${i + 1}$`));
    });
    expect(resolver.stats()).toMatchObject({ origin: 'source', reachable: true, endpoints: 3 });
  });

  it('follows TTL expiry (about the TTL), deregistration (at once) and drain (about a second)', async () => {
    const connection = connect();
    const name = uniqueName('follow');
    const regs = await threeInstances(connection, name);
    const resolver = resolve({ connection, service: name });
    expect(await resolver.ready()).toHaveLength(3);

    const expiry = nextList(resolver, (l) => l.length === 2);
    regs[0]!.dispose(); // heartbeat stops, no deregistration
    const expired = await expiry;
    expect(ids(expired.list)).toEqual([`${name}-2`, `${name}-3`]);
    expect(expired.ms).toBeLessThan(TTL_MS + 1500);

    const gone = nextList(resolver, (l) => l.length === 1);
    await regs[1]!.deregister();
    const deregistered = await gone;
    expect(ids(deregistered.list)).toEqual([`${name}-3`]);
    expect(deregistered.ms).toBeLessThan(1000);

    const out = nextList(resolver, (l) => l.length === 0);
    const draining = regs[2]!.drain({ drainMs: 0 });
    expect((await out).ms).toBeLessThan(2000);
    await draining;
  });

  it('skips a datacenter it has no path to and serves the next one', async () => {
    const connection = connect();
    const name = uniqueName('dc');
    await threeInstances(connection, name);
    const { logger, warnings } = warnLogger();
    const resolver = resolve({ connection, service: name, datacenters: ['nowhere', 'dc1'], logger });
    expect(await resolver.ready()).toHaveLength(3);
    expect(resolver.stats().datacenter).toBe('dc1');
    expect(warnings).toContain('no path to datacenter; treating it as empty');
  });

  it('drops an instance with a warning check from ?passing; includeWarning keeps it at Weights.Warning', async () => {
    const connection = connect();
    const name = uniqueName('warn');
    const reg = new ServiceRegistration({
      connection,
      service: { name, id: `${name}-1`, address: '127.0.0.1', port: 9001, weight: 5 },
      ttlMs: TTL_MS,
      extraChecks: [{ id: `governance:${name}-1`, name: 'meshless governance' }],
    });
    addCleanup(() => reg.deregister());
    await reg.start();
    const strict = resolve({ connection, service: name });
    const lenient = resolve({ connection, service: name, includeWarning: true });
    expect((await strict.ready()).map((e) => e.weight)).toEqual([5]);
    expect((await lenient.ready()).map((e) => e.weight)).toEqual([5]);

    const dropped = nextList(strict, (l) => l.length === 0);
    const weighted = nextList(lenient, (l) => l[0]?.weight === 1);
    await reg.updateCheck(`governance:${name}-1`, 'warning', 'services/x/routes rejected');
    await Promise.all([dropped, weighted]);
    expect(lenient.current()).toHaveLength(1);
  });

  it('shares one resolver per service through Discovery', async () => {
    const connection = connect();
    const name = uniqueName('shared');
    await threeInstances(connection, name);
    const discovery = new Discovery({ connection, cacheDir: false, thread, cached });
    addCleanup(() => discovery.dispose());
    const a = discovery.resolver(name);
    const b = discovery.resolver(name);
    expect(await a.ready()).toHaveLength(3);
    expect(b.current()).toBe(a.current());
    expect(discovery.stats()).toHaveLength(1);
    expect(discovery.stats()[0]!.watches[0]!.thread).toBe(thread);
    a.dispose();
    b.dispose();
    expect(discovery.stats()).toHaveLength(0);
  });

  it('keeps the last endpoints through an agent outage, starts from the disk cache meanwhile, then recovers', async () => {
    const agent = await ConsulDevAgent.start();
    addCleanup(() => agent.stop());
    const connection = connect(agent.address);
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-discovery-'));
    const name = uniqueName('outage');
    const regs = await threeInstances(connection, name);
    const watch = { backoff: { baseMs: 100, maxMs: 1000 } };
    const first = resolve({ connection, service: name, cacheDir, watch, logger: warnLogger().logger });
    const live = await first.ready();
    expect(live).toHaveLength(3);

    await agent.kill9();
    await eventually(() => !first.stats().reachable, 5000, 'the resolver to notice the outage');
    expect(first.current()).toBe(live);
    // Heartbeats fail quietly meanwhile (unhandled rejections are checked after each test).
    await eventually(() => regs.every((r) => r.status().failures > 0), 3000, 'failed heartbeats');

    // A new process (here: a new resolver) starting while Consul is down.
    const started = Date.now();
    const cold = resolve({ connection, service: name, cacheDir, watch, logger: warnLogger().logger });
    const cached = await cold.ready();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(cached).toEqual(live);
    expect(cold.stats().origin).toBe('cache');

    await agent.restart(); // empty again: the registrations put themselves back
    await eventually(
      () => cold.stats().origin === 'source' && cold.current().length === 3 && first.current().length === 3,
      15_000,
      'both resolvers live again',
    );
    expect(ids(cold.current())).toEqual(ids(live));
    expect(first.current().every((e, i) => e.id === live[i]!.id)).toBe(true);
  }, 60_000);
});
