import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import {
  ConsulConnection,
  ConsulResolver,
  Discovery,
  HealthWorkerHost,
  ServiceRegistration,
} from '@meshless/consul';
import { type Endpoint, type Event, once } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { startBackend, startGateway } from './helpers/backends.ts';
import { consulAddress, eventually, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// Discovery off the main thread, on a real Consul: a watch moves to the worker when its service
// grows past the threshold, the main thread then gets the changed endpoints only (the others
// keep their objects), a worker that dies is started again with its watches, and closing
// ends the thread. The resolver scenarios themselves run on both threads in discovery.test.ts.

const addCleanup = useCleanupsAndNoUnhandledRejections();
const uniqueName = (what: string) => `dw-${what}-${randomUUID().slice(0, 8)}`;

function connect(): ConsulConnection {
  const connection = new ConsulConnection({ address: consulAddress() });
  addCleanup(() => connection.close());
  return connection;
}

async function register(connection: ConsulConnection, name: string, n: number, version = 'v1') {
  const reg = new ServiceRegistration({
    connection,
    service: { name, id: `${name}-${n}`, address: '127.0.0.1', port: 9000 + n, version },
    ttlMs: 5000,
  });
  addCleanup(() => reg.deregister());
  await reg.start();
  return reg;
}

function next(
  resolver: { onDidChange: Event<readonly Endpoint[]> },
  predicate: (l: readonly Endpoint[]) => boolean,
) {
  return Promise.race([
    once(resolver.onDidChange, predicate),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no such list in 5 s')), 5000).unref(),
    ),
  ]);
}

describe('discovery in a worker thread', () => {
  it('moves a watch to the worker once its service reaches the threshold, and keeps unchanged endpoints', async () => {
    const connection = connect();
    const name = uniqueName('grow');
    await register(connection, name, 1);
    await register(connection, name, 2);
    const discovery = new Discovery({ connection, cacheDir: false, offThreadAbove: 3 });
    addCleanup(async () => {
      discovery.dispose();
      await discovery.stopped;
    });
    const resolver = discovery.resolver(name);
    expect(await resolver.ready()).toHaveLength(2);
    expect(resolver.stats().watches[0]!.thread).toBe('main');

    const grown = next(resolver, (l) => l.length === 3);
    const third = await register(connection, name, 3);
    await grown;
    await eventually(() => resolver.stats().watches[0]!.thread === 'worker', 5000, 'the watch in the worker');
    const before = resolver.current();

    // One instance changes (a new version): only it is a new object on the main thread.
    const changed = next(resolver, (l) => l.find((e) => e.id.endsWith(`${name}-3`))?.meta.version === 'v2');
    third.dispose();
    await register(connection, name, 3, 'v2');
    const after = await changed;
    expect(after).toHaveLength(3);
    expect(after[0]).toBe(before[0]);
    expect(after[1]).toBe(before[1]);
    expect(after[2]).not.toBe(before[2]);
    expect(Object.getPrototypeOf(after[2]!.meta)).toBe(null);
    expect(resolver.stats()).toMatchObject({ reachable: true, endpoints: 3 });
    const worker = await discovery.workerStats();
    expect(worker.running).toBe(true);
    expect(worker.heapUsedBytes).toBeGreaterThan(1 << 20);
  });

  it('starts a worker that died again, with its watches, and the lists go on', async () => {
    const connection = connect();
    const name = uniqueName('crash');
    await register(connection, name, 1);
    const workers: Worker[] = [];
    const errors: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn(message: string) {
        errors.push(message);
      },
      error(message: string) {
        errors.push(message);
      },
    };
    const host = new HealthWorkerHost(connection.options, logger, (w) => workers.push(w));
    const resolver = new ConsulResolver({
      connection,
      service: name,
      worker: host,
      thread: 'worker',
      logger,
    });
    addCleanup(async () => {
      resolver.dispose();
      await resolver.stopped;
      await host.dispose();
    });
    const first = await resolver.ready();
    expect(first).toHaveLength(1);
    expect(workers).toHaveLength(1);

    await workers[0]!.terminate();
    await eventually(() => workers.length === 2, 5000, 'a second worker');
    expect(errors).toContain('endpoint watch failed; serving the last list');
    expect(resolver.current()).toBe(first);

    const grown = next(resolver, (l) => l.length === 2);
    await register(connection, name, 2);
    expect(await grown).toHaveLength(2);
    expect((await grown)[0]).toBe(first[0]);
  });

  it('ends the thread when the last watch stops, and on dispose', async () => {
    const connection = connect();
    const name = uniqueName('end');
    await register(connection, name, 1);
    const host = new HealthWorkerHost(connection.options);
    const a = new ConsulResolver({ connection, service: name, worker: host, thread: 'worker' });
    expect(await a.ready()).toHaveLength(1);
    expect(host.running).toBe(true);
    a.dispose();
    await a.stopped;
    await eventually(() => !host.running, 5000, 'the worker to end');

    const b = new ConsulResolver({ connection, service: name, worker: host, thread: 'worker' });
    expect(await b.ready()).toHaveLength(1);
    expect(host.running).toBe(true);
    await host.dispose();
    expect(host.running).toBe(false);
    b.dispose();
    await b.stopped;
  });

  it('governs calls end to end with discovery in the worker', async () => {
    const prefix = uniquePrefix('dw');
    const service = uniqueName('svc');
    const backend = await startBackend(service, 'v1', 'a', { prefix });
    addCleanup(() => backend.stop());
    const gateway = await startGateway(prefix, { discovery: { thread: 'worker' } });
    addCleanup(() => gateway.close());
    const res = await gateway.client(service).fetch('/hello');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ version: 'v1' });
  });
});
