import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock, seededRandom } from '@meshless/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockingWatch } from './blocking-watch.ts';
import { ConsulConnection } from './connection.ts';

// A scripted HTTP server on loopback stands in for Consul's edge cases that a real agent cannot be
// made to produce on demand (an index going backwards, a run of 500s). Real-Consul behaviour is
// covered in test/.

type Reply = { status?: number; index?: number; body?: string; delayMs?: number };

async function scripted(
  replies: (req: IncomingMessage, n: number) => Reply,
  runtime?: ConstructorParameters<typeof ConsulConnection>[1],
) {
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
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const connection = new ConsulConnection({ address }, runtime);
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
/** After the test: the watch stops (its loop ended), then its stand-in server closes. */
function closeAfter(watch: BlockingWatch<unknown>, server: { close(): Promise<void> }): void {
  cleanups.push(async () => {
    watch.dispose();
    await watch.done;
    await server.close();
  });
}
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
    closeAfter(watch, s);
    while (s.seen.length < 5) await new Promise((r) => setTimeout(r, 5));
    const idx = s.seen.map((u) => u.searchParams.get('index'));
    expect(idx.slice(0, 5)).toEqual([null, '10', '12', null, '6']);
    expect(s.seen[1]!.searchParams.get('wait')).toMatch(/^\d+ms$/);
    expect(changes.slice(0, 4)).toEqual([10, 12, 5, 6]);
  });

  it('with confirmAfterFailure, re-reads the first changed answer after a failure with ?consistent and takes that', async () => {
    // 1: the list; 2: a failure (no leader); 3: a leader that has not replayed its log answers
    // "nothing" at index 1; 4: the consistent re-read, the list again; then blocking as usual.
    const s = await scripted((req, n) => {
      const url = new URL(req.url!, 'http://x');
      if (url.searchParams.has('consistent')) return { index: 40, body: '["a"]' };
      if (n === 1) return { index: 30, body: '["a"]' };
      if (n === 2) return { status: 500, body: 'No cluster leader' };
      if (n === 3) return { index: 1, body: '[]' };
      return { index: 40, body: '["a"]', delayMs: 200 };
    });
    const clock = new ManualClock();
    const changes: unknown[] = [];
    const watch = new BlockingWatch({
      connection: s.connection,
      path: '/v1/health/service/api',
      query: { passing: true, cached: true },
      parse: (r) => JSON.parse(r.body.toString()),
      onChange: (v) => changes.push(v),
      confirmAfterFailure: true,
      recoverEarly: false,
      clock,
      random: seededRandom(1),
    });
    closeAfter(watch, s);
    while (s.seen.length < 2) await new Promise((r) => setTimeout(r, 5));
    while (s.seen.length < 4) {
      clock.advance(1000); // the backoff after the 500
      await new Promise((r) => setTimeout(r, 5));
    }
    const confirm = s.seen[3]!;
    expect(confirm.searchParams.has('consistent')).toBe(true);
    expect(confirm.searchParams.has('cached')).toBe(false);
    expect(confirm.searchParams.get('passing')).toBe('');
    while (s.seen.length < 5) await new Promise((r) => setTimeout(r, 5));
    expect(s.seen[4]!.searchParams.get('index')).toBe('40');
    expect(changes).toEqual([['a']]); // the empty answer was never taken
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
    closeAfter(watch, s);
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
    closeAfter(watch, s);
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
    closeAfter(watch, s);
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
    closeAfter(watch, s);
    while (errors.length < 6) await new Promise((r) => setTimeout(r, 5));
    const ceilings = [20, 40, 80, 160, 160, 160];
    errors.slice(0, 6).forEach((e, i) => {
      expect(e.failures).toBe(i + 1);
      expect(e.retryInMs).toBeGreaterThanOrEqual(ceilings[i]! / 2);
      expect(e.retryInMs).toBeLessThanOrEqual(ceilings[i]!);
    });
    expect(watch.stats().lastError).toMatch(/HTTP 500 No cluster leader/);
  });

  describe('after a long outage', () => {
    /** Moves the manual clock in steps, letting the loopback requests of each step complete. */
    async function run(clock: ManualClock, ms: number, until: () => boolean = () => false): Promise<void> {
      for (let t = 0; t < ms && !until(); t += 50) {
        clock.advance(50);
        await new Promise((r) => setTimeout(r, 3));
      }
    }

    function outage(kvReply: () => Reply) {
      const state = { down: true };
      const replies = (req: IncomingMessage): Reply => {
        if (req.url === '/v1/status/leader') return { body: state.down ? '""' : '"127.0.0.1:8300"' };
        return state.down ? kvReply() : { index: 5, body: '["up"]' };
      };
      return { state, replies };
    }

    it('retries within about a second of the leader answering, not at the end of the capped backoff', async () => {
      const clock = new ManualClock();
      const o = outage(() => ({ status: 500, body: 'No cluster leader' }));
      const s = await scripted(o.replies, { clock, random: seededRandom(7) });
      const errors: { failures: number; retryInMs: number; at: number }[] = [];
      const changes: string[] = [];
      const watch = new BlockingWatch({
        connection: s.connection,
        path: '/v1/kv/x/',
        parse: (r) => r.body.toString(),
        onChange: (v) => changes.push(v),
        onError: (_e, info) => errors.push({ ...info, at: clock.now() }),
        clock,
        // Always the top of the jitter range: the backoff reaches 8 s, then the 10 s cap.
        random: () => 0.999,
      });
      closeAfter(watch, s);
      await run(clock, 60_000, () => errors.length >= 8);
      expect(errors.at(-1)!.retryInMs).toBeGreaterThan(9000);
      const kvBefore = s.seen.filter((u) => u.pathname === '/v1/kv/x/').length;
      const probes = s.seen.filter((u) => u.pathname === '/v1/status/leader').length;
      // About one probe a second while waiting (gaps 0.75 .. 1.25 s), none while the waits were short.
      expect(probes).toBeLessThanOrEqual(Math.ceil(clock.now() / 750));
      expect(kvBefore).toBe(8);

      await run(clock, 2000); // well into the 10 s wait
      o.state.down = false;
      const back = clock.now();
      await run(clock, 10_000, () => changes.length > 0);
      expect(changes).toEqual(['["up"]']);
      // The next probe is at most 1.25 s away; the rest allows for loopback round trips on a busy machine.
      expect(clock.now() - back).toBeLessThanOrEqual(2500);
      expect(clock.now() - errors.at(-1)!.at).toBeLessThan(errors.at(-1)!.retryInMs);
    });

    it('keeps the full backoff for a 403 even while the leader answers (no probe at all)', async () => {
      const clock = new ManualClock();
      const kvAt: number[] = [];
      const s = await scripted(
        (req) => {
          if (req.url === '/v1/status/leader') return { body: '"127.0.0.1:8300"' };
          kvAt.push(clock.now());
          return { status: 403, body: 'Permission denied' };
        },
        { clock, random: seededRandom(8) },
      );
      const errors: number[] = [];
      const watch = new BlockingWatch({
        connection: s.connection,
        path: '/v1/kv/x/',
        parse: () => 1,
        onChange: () => {},
        onError: (_e, info) => errors.push(info.retryInMs),
        clock,
        random: () => 0.999,
      });
      closeAfter(watch, s);
      await run(clock, 60_000, () => kvAt.length >= 8);
      // After waits of 250 + 500 + 1000 + 2000 + 4000 + 8000 + 10000 ms (x 0.9995): the 8th try at
      // 25.7 s or later (loopback round trips only add), where cut-short waits would take about 7 s.
      expect(kvAt).toHaveLength(8);
      expect(kvAt[7]!).toBeGreaterThanOrEqual(25_700);
      expect(errors.slice(0, 7)).toEqual([249, 499, 999, 1999, 3998, 7996, 9995]);
      expect(s.seen.filter((u) => u.pathname === '/v1/status/leader')).toHaveLength(0);
    });

    it('with recoverEarly: false sleeps the backoff out', async () => {
      const clock = new ManualClock();
      const o = outage(() => ({ status: 503, body: 'unavailable' }));
      const s = await scripted(o.replies, { clock, random: seededRandom(9) });
      const errors: { retryInMs: number; at: number }[] = [];
      const changes: string[] = [];
      const watch = new BlockingWatch({
        connection: s.connection,
        path: '/v1/kv/x/',
        parse: (r) => r.body.toString(),
        onChange: (v) => changes.push(v),
        onError: (_e, info) => errors.push({ retryInMs: info.retryInMs, at: clock.now() }),
        clock,
        random: () => 0.999,
        recoverEarly: false,
      });
      closeAfter(watch, s);
      await run(clock, 60_000, () => errors.length >= 8);
      o.state.down = false;
      await run(clock, 12_000, () => changes.length > 0);
      expect(changes).toEqual(['["up"]']);
      expect(clock.now() - errors.at(-1)!.at).toBeGreaterThanOrEqual(errors.at(-1)!.retryInMs);
      expect(s.seen.filter((u) => u.pathname === '/v1/status/leader')).toHaveLength(0);
    });
  });
});
