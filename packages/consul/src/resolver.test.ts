import { mkdtempSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClosedError, type Endpoint, type Logger, once } from '@meshless/core';
import { endpoint, ManualClock } from '@meshless/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsulConnection } from './connection.ts';
import {
  ConsulResolver,
  type ConsulResolverOptions,
  type DatacenterView,
  selectDatacenter,
} from './resolver.ts';
import { Discovery } from './resolver-registry.ts';

// A small stand-in for the health endpoint on loopback, for what one real agent cannot show on
// demand (a second datacenter, a body that changes only in check output). Blocking requests wait
// until `set()` bumps the index, as Consul's do. Real-Consul behaviour is covered in test/.

type Answer = { status?: number; body: unknown };

async function fakeHealth() {
  let index = 10;
  const answers = new Map<string, Answer>();
  let waiting: (() => void)[] = [];
  const seen: URL[] = [];
  const server = createServer((req, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    seen.push(url);
    const dc = url.searchParams.get('dc') ?? '';
    const answer = () => {
      const a = answers.get(dc) ?? { body: [] };
      res.writeHead(a.status ?? 200, { 'x-consul-index': String(index) });
      res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
    };
    if (Number(url.searchParams.get('index') ?? 0) >= index) waiting.push(answer);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const connection = new ConsulConnection({ address });
  return {
    address,
    connection,
    seen,
    set(dc: string, answer: Answer) {
      answers.set(dc, answer);
      index++;
      const w = waiting;
      waiting = [];
      for (const fn of w) fn();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function entry(
  node: string,
  id: string,
  fields: { port?: number; meta?: Record<string, string>; output?: string } = {},
) {
  return {
    Node: { Node: node, Address: '10.0.0.1', Datacenter: 'dc1' },
    Service: { ID: id, Service: 'catalog', Port: fields.port ?? 8080, Tags: [], Meta: fields.meta ?? null },
    Checks: [{ CheckID: `service:${id}`, Status: 'passing', Output: fields.output ?? '' }],
  };
}

function warnings() {
  const seen: string[] = [];
  let notify: (() => void) | undefined;
  const push = (m: string) => {
    seen.push(m);
    notify?.();
  };
  const logger: Logger = { debug: () => {}, info: () => {}, warn: push, error: push };
  return {
    logger,
    seen,
    /** Resolves once a warning containing `text` was logged. */
    next: (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => seen.some((m) => m.includes(text)) && resolve();
        notify = check;
        check();
      }),
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function resolverOn(
  fake: Awaited<ReturnType<typeof fakeHealth>>,
  options: Partial<ConsulResolverOptions> = {},
) {
  const resolver = new ConsulResolver({
    connection: fake.connection,
    service: 'catalog',
    clock: new ManualClock(),
    ...options,
  });
  cleanups.push(async () => {
    resolver.dispose();
    await resolver.stopped;
  });
  return resolver;
}

async function started() {
  const fake = await fakeHealth();
  cleanups.push(
    () => fake.close(),
    () => fake.connection.close(),
  );
  return fake;
}

const ids = (list: readonly Endpoint[]) => list.map((e) => e.id);

/** Waits (a turn of the event loop at a time, at most 5 s) until `check` holds. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('selectDatacenter', () => {
  const view = (
    datacenter: string,
    endpoints: readonly Endpoint[] | undefined,
    failed = false,
  ): DatacenterView => ({
    datacenter,
    endpoints,
    failed,
  });
  const a = [endpoint('n/a')];
  const b = [endpoint('n/b')];

  it('serves the first datacenter in order that has any endpoint', () => {
    expect(selectDatacenter([view('dc1', a), view('dc2', b)])).toMatchObject({
      kind: 'live',
      datacenter: 'dc1',
    });
    expect(selectDatacenter([view('dc1', []), view('dc2', b)])).toMatchObject({
      kind: 'live',
      datacenter: 'dc2',
    });
    expect(selectDatacenter([view('dc1', []), view('dc2', [])])).toMatchObject({
      kind: 'live',
      endpoints: [],
    });
  });

  it('waits for an earlier datacenter that has not answered, but not for one that failed', () => {
    expect(selectDatacenter([view('dc1', undefined), view('dc2', b)])).toEqual({ kind: 'wait' });
    expect(selectDatacenter([view('dc1', undefined, true), view('dc2', b)])).toMatchObject({
      datacenter: 'dc2',
    });
    expect(selectDatacenter([view('dc1', a), view('dc2', undefined)])).toMatchObject({ datacenter: 'dc1' });
  });

  it('reports none when nothing ever answered', () => {
    expect(selectDatacenter([view('dc1', undefined, true), view('dc2', undefined, true)])).toEqual({
      kind: 'none',
    });
  });
});

describe('ConsulResolver', () => {
  it('watches ?passing with the tag filter and emits only real endpoint changes, never synchronously', async () => {
    const fake = await started();
    fake.set('', { body: [entry('n1', 'b'), entry('n1', 'a')] });
    const resolver = await resolverOn(fake, { tags: ['http', 'canary'] });
    expect(ids(await resolver.ready())).toEqual(['n1/a', 'n1/b']);
    expect(fake.seen[0]!.searchParams.has('passing')).toBe(true);
    expect(fake.seen[0]!.searchParams.getAll('tag')).toEqual(['canary', 'http']);

    const emitted: string[][] = [];
    resolver.onDidChange((list) => emitted.push(ids(list)));
    expect(emitted).toEqual([]);
    expect(resolver.current()).toBe(resolver.current());

    // A new check output changes Consul's answer but not the endpoints: no event.
    const requests = fake.seen.length;
    fake.set('', { body: [entry('n1', 'b', { output: 'beat 2' }), entry('n1', 'a')] });
    await new Promise<void>(function poll(r) {
      if (fake.seen.length > requests) r();
      else setImmediate(() => poll(r));
    });
    fake.set('', { body: [entry('n1', 'a'), entry('n1', 'c', { meta: { zone: 'z' } })] });
    await once(resolver.onDidChange);
    expect(emitted).toEqual([['n1/a', 'n1/c']]);
    expect(resolver.current()[1]!.zone).toBe('z');
    expect(resolver.stats()).toMatchObject({ endpoints: 2, origin: 'source', changes: 2, reachable: true });
  });

  it('treats "No path to datacenter" as an empty datacenter and fails over to the next', async () => {
    const fake = await started();
    fake.set('nowhere', { status: 500, body: 'No path to datacenter' });
    fake.set('dc2', { body: [entry('n2', 'x')] });
    const w = warnings();
    const resolver = await resolverOn(fake, { datacenters: ['nowhere', 'dc2'], logger: w.logger });
    expect(ids(await resolver.ready())).toEqual(['n2/x']);
    expect(resolver.stats().datacenter).toBe('dc2');
    expect(w.seen.some((m) => m.includes('no path to datacenter'))).toBe(true);
  });

  it('serves a datacenter again once it answers after "No path to datacenter", with the list it had', async () => {
    const fake = await started();
    fake.set('dc1', { body: [entry('n1', 'a')] });
    fake.set('dc2', { body: [entry('n2', 'x')] });
    const clock = new ManualClock();
    const w = warnings();
    const resolver = await resolverOn(fake, { datacenters: ['dc1', 'dc2'], logger: w.logger, clock });
    expect(ids(await resolver.ready())).toEqual(['n1/a']);

    const failedOver = once(resolver.onDidChange, (l) => ids(l)[0] === 'n2/x');
    fake.set('dc1', { status: 500, body: 'No path to datacenter' });
    await failedOver;
    // The same body as before the outage: no change for the watch, but dc1 is reachable again.
    const back = once(resolver.onDidChange, (l) => ids(l)[0] === 'n1/a');
    fake.set('dc1', { body: [entry('n1', 'a')] });
    clock.advance(20_000); // the backoff after the no-path answer
    await back;
    expect(resolver.stats().datacenter).toBe('dc1');
  });

  it('does not take an empty list right after an outage at once: the last one is served a while', async () => {
    const fake = await started();
    fake.set('', { body: [entry('n1', 'a')] });
    const clock = new ManualClock();
    const w = warnings();
    const resolver = await resolverOn(fake, { logger: w.logger, clock, holdEmptyAfterOutageMs: 5000 });
    const first = await resolver.ready();
    fake.set('', { status: 500, body: 'rpc error: No cluster leader' });
    await w.next('endpoint watch failed');
    // Back, but its TTL checks were restored critical: nothing passes until the next heartbeat.
    fake.set('', { body: [] });
    clock.advance(1000); // the backoff
    await w.next('no instance right after an outage');
    expect(resolver.current()).toBe(first);
    await until(() => resolver.stats().reachable);
    // The heartbeat comes: the instance is back, and the list never emptied.
    const events: number[] = [];
    resolver.onDidChange((l) => events.push(l.length));
    const asked = fake.seen.length;
    fake.set('', { body: [entry('n1', 'a', { output: 'beat' })] });
    await until(() => fake.seen.length > asked); // taken: the watch asks again
    clock.advance(10_000); // past the hold: the list was taken back already, nothing to apply
    expect(resolver.current()).toBe(first);
    expect(events).toEqual([]);

    // Gone for good: after another outage, an empty list still there after the hold is taken.
    fake.set('', { status: 500, body: 'rpc error: No cluster leader' });
    await until(() => w.seen.filter((m) => m.includes('endpoint watch failed')).length >= 2);
    const emptied = once(resolver.onDidChange, (l) => l.length === 0);
    fake.set('', { body: [] });
    clock.advance(20_000); // the backoff
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(5000); // the hold
    await emptied;
  });

  it('keeps serving the last endpoints while Consul fails', async () => {
    const fake = await started();
    fake.set('', { body: [entry('n1', 'a')] });
    const w = warnings();
    const resolver = await resolverOn(fake, { logger: w.logger });
    const first = await resolver.ready();
    fake.set('', { status: 500, body: 'rpc error: No cluster leader' });
    await w.next('endpoint watch failed');
    expect(resolver.current()).toBe(first);
    expect(resolver.stats().reachable).toBe(false);
  });

  it('starts from the disk cache when the first request fails, and from [] without one', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-resolver-'));
    const fake = await started();
    fake.set('', { body: [entry('n1', 'a', { meta: { version: 'v1' } }), entry('n1', 'b')] });
    const writer = await resolverOn(fake, { cacheDir });
    const live = await writer.ready();
    writer.dispose();
    await writer.stopped; // the disk copy is written in the background; stopped waits for it
    await fake.close(); // the agent is gone; same address

    const reader = await resolverOn(fake, { cacheDir });
    const cached = await reader.ready();
    expect(cached).toEqual(live);
    expect(reader.stats().origin).toBe('cache');

    const other = await resolverOn(fake, { cacheDir, service: 'unknown' });
    expect(await other.ready()).toEqual([]);
    expect(other.stats().origin).toBe('none');
  });
});

describe('Discovery', () => {
  it('shares one resolver per (service, options) and stops it with the last lease', async () => {
    const fake = await started();
    fake.set('', { body: [entry('n1', 'a')] });
    const discovery = new Discovery({ connection: fake.connection, clock: new ManualClock() });
    cleanups.push(() => discovery.dispose());
    const one = discovery.resolver('catalog');
    const two = discovery.resolver('catalog', { tags: [] });
    const tagged = discovery.resolver('catalog', { tags: ['b', 'a'] });
    const tagged2 = discovery.resolver('catalog', { tags: ['a', 'b'] });
    expect(discovery.stats()).toHaveLength(2);
    discovery.resolver('catalog', { includeWarning: true }).dispose();
    expect(ids(await one.ready())).toEqual(['n1/a']);
    expect(two.current()).toBe(one.current());

    const events: number[] = [];
    two.onDidChange((l) => events.push(l.length));
    two.dispose(); // drops its subscription, keeps the shared resolver for `one`
    one.dispose();
    expect(discovery.stats()).toHaveLength(1);
    tagged.dispose();
    tagged2.dispose();
    expect(discovery.stats()).toHaveLength(0);
    expect(events).toEqual([]);

    discovery.dispose();
    expect(() => discovery.resolver('catalog')).toThrow(ClosedError);
  });
});
