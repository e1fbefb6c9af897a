import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '@meshless/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockingWatch } from './blocking-watch.ts';
import { ConsulConnection } from './connection.ts';

// A scripted HTTP server on loopback stands in for Consul's edge cases that a real agent cannot be
// made to produce on demand (an index going backwards, a run of 500s). Real-Consul behaviour is
// covered in test/.

type Reply = { status?: number; index?: number; body?: string; delayMs?: number };

async function scripted(replies: (req: IncomingMessage, n: number) => Reply) {
  const seen: URL[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    seen.push(url);
    const r = replies(req, seen.length);
    setTimeout(() => {
      res.writeHead(r.status ?? 200, r.index === undefined ? {} : { 'x-consul-index': String(r.index) });
      res.end(r.body ?? '[]');
    }, r.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const connection = new ConsulConnection({ address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
  return {
    seen,
    connection,
    close: async () => {
      await connection.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('BlockingWatch', () => {
  it('starts non-blocking, then blocks on the returned index, and resets when the index goes backwards', async () => {
    const indexes = [10, 12, 5, 6];
    const s = await scripted((_req, n) => ({
      index: indexes[Math.min(n, indexes.length) - 1],
      body: `[${n}]`,
      delayMs: n > 4 ? 50 : 0,
    }));
    const changes: number[] = [];
    const watch = new BlockingWatch({
      connection: s.connection,
      path: '/v1/kv/x/',
      parse: (r) => r.index!,
      onChange: (v) => changes.push(v),
    });
    cleanups.push(async () => {
      watch.dispose();
      await watch.done;
      await s.close();
    });
    while (s.seen.length < 5) await new Promise((r) => setTimeout(r, 5));
    const idx = s.seen.map((u) => u.searchParams.get('index'));
    expect(idx.slice(0, 5)).toEqual([null, '10', '12', null, '6']);
    expect(s.seen[1]!.searchParams.get('wait')).toMatch(/^\d+ms$/);
    expect(changes.slice(0, 4)).toEqual([10, 12, 5, 6]);
  });

  it('emits only when the data really changed', async () => {
    const s = await scripted((_req, n) => ({
      index: n,
      body: n < 4 ? '["same"]' : '["new"]',
      delayMs: n > 5 ? 200 : 0,
    }));
    const changes: string[] = [];
    const watch = new BlockingWatch({
      connection: s.connection,
      path: '/v1/kv/x/',
      parse: (r) => r.body.toString(),
      onChange: (v) => changes.push(v),
    });
    cleanups.push(async () => {
      watch.dispose();
      await watch.done;
      await s.close();
    });
    while (s.seen.length < 5) await new Promise((r) => setTimeout(r, 5));
    expect(changes).toEqual(['["same"]', '["new"]']);
  });

  it('never blocks on an index <= 0', async () => {
    const s = await scripted((_req, n) => ({ index: 0, body: `[${n}]`, delayMs: n > 3 ? 200 : 0 }));
    const watch = new BlockingWatch({
      connection: s.connection,
      path: '/v1/kv/x/',
      parse: () => 1,
      onChange: () => {},
    });
    cleanups.push(async () => {
      watch.dispose();
      await watch.done;
      await s.close();
    });
    while (s.seen.length < 3) await new Promise((r) => setTimeout(r, 5));
    while (s.seen.length < 3) await new Promise((r) => setTimeout(r, 5));
    expect(s.seen.slice(1, 3).map((u) => u.searchParams.get('index'))).toEqual(['1', '1']);
  });

  it('rate-limits a loop that returns at once', async () => {
    const s = await scripted((_req, n) => ({ index: n, body: `[${n}]` }));
    const watch = new BlockingWatch({
      connection: s.connection,
      path: '/v1/kv/x/',
      parse: () => 1,
      onChange: () => {},
      rateLimit: { perSecond: 20, burst: 5 },
    });
    cleanups.push(async () => {
      watch.dispose();
      await watch.done;
      await s.close();
    });
    await new Promise((r) => setTimeout(r, 500));
    // burst 5 + 20/s * 0.5 s = about 15; a spinning loop would make thousands.
    expect(s.seen.length).toBeGreaterThanOrEqual(8);
    expect(s.seen.length).toBeLessThanOrEqual(17);
  });

  it('backs off exponentially (capped, jittered) on errors and reports them without throwing', async () => {
    const s = await scripted(() => ({ status: 500, body: 'No cluster leader' }));
    const errors: { failures: number; retryInMs: number }[] = [];
    const watch = new BlockingWatch({
      connection: s.connection,
      path: '/v1/kv/x/',
      parse: () => 1,
      onChange: () => {},
      onError: (_e, info) => errors.push(info),
      backoff: { baseMs: 20, maxMs: 160 },
      random: seededRandom(1),
    });
    cleanups.push(async () => {
      watch.dispose();
      await watch.done;
      await s.close();
    });
    while (errors.length < 6) await new Promise((r) => setTimeout(r, 5));
    const ceilings = [20, 40, 80, 160, 160, 160];
    errors.slice(0, 6).forEach((e, i) => {
      expect(e.failures).toBe(i + 1);
      expect(e.retryInMs).toBeGreaterThanOrEqual(ceilings[i]! / 2);
      expect(e.retryInMs).toBeLessThanOrEqual(ceilings[i]!);
    });
    expect(watch.stats().lastError).toMatch(/HTTP 500 No cluster leader/);
  });
});
