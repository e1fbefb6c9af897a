import { ConsulError, ConsulPermissionError } from '@meshless/core';
import { ManualClock, seededRandom } from '@meshless/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsulConnection, type ConsulRequest, type ConsulResponse } from './connection.ts';
import { endsWithReachability, hasLeader, ReachabilityProbe } from './reachability-probe.ts';
import { scriptedAgent } from './test-support.ts';

function answer(status: number, text: string): ConsulResponse {
  return { status, index: undefined, body: Buffer.from(text), header: () => undefined };
}

/** A request stand-in: records each call and answers with `reply()` at the next turn. */
function agent(reply: () => ConsulResponse | Error) {
  const calls: ConsulRequest[] = [];
  return {
    calls,
    request(req: ConsulRequest): Promise<ConsulResponse> {
      calls.push(req);
      const r = reply();
      return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    },
  };
}

/** Lets the probe's awaited request settle. */
const turn = () => new Promise((r) => setImmediate(r));

async function advance(clock: ManualClock, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await turn();
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('ReachabilityProbe', () => {
  it('sends nothing while no one waits', async () => {
    const clock = new ManualClock();
    const a = agent(() => answer(200, '"127.0.0.1:8300"'));
    const probe = new ReachabilityProbe(a, { clock, random: seededRandom(1) });
    cleanups.push(() => probe.dispose());
    await advance(clock, 10_000);
    expect(a.calls).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });

  it('answers many waiters with one probe of the leader endpoint, then stops', async () => {
    const clock = new ManualClock();
    const a = agent(() => answer(200, '"127.0.0.1:8300"'));
    const probe = new ReachabilityProbe(a, { clock, random: seededRandom(2) });
    cleanups.push(() => probe.dispose());
    let resolved = 0;
    for (let i = 0; i < 6; i++) void probe.whenAnswering().then(() => resolved++);
    await advance(clock, 700);
    expect(a.calls).toHaveLength(0); // the first probe waits a (jittered) interval
    await advance(clock, 600);
    expect(a.calls).toHaveLength(1);
    expect(a.calls[0]).toMatchObject({ path: '/v1/status/leader', timeoutMs: 1000 });
    expect(resolved).toBe(6);
    expect(probe.waiting).toBe(0);
    await advance(clock, 5000);
    expect(a.calls).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it('probes about once a second while the agent is down or has no leader, never faster', async () => {
    const clock = new ManualClock();
    let n = 0;
    const a = agent(() =>
      ++n % 2 ? new ConsulError('consul GET /v1/status/leader: ECONNREFUSED') : answer(200, '""'),
    );
    const probe = new ReachabilityProbe(a, { clock, random: seededRandom(3) });
    cleanups.push(() => probe.dispose());
    let resolved = false;
    const waiting = probe.whenAnswering().then(() => (resolved = true));
    await advance(clock, 20_000);
    expect(resolved).toBe(false);
    // gaps of 0.75 .. 1.25 s: 16 .. 26 probes in 20 s
    expect(a.calls.length).toBeGreaterThanOrEqual(16);
    expect(a.calls.length).toBeLessThanOrEqual(26);
    probe.dispose();
    await expect(waiting).rejects.toThrow(/closed/);
  });

  it('stops probing when the last waiter aborts, and rejects it with the reason', async () => {
    const clock = new ManualClock();
    const a = agent(() => answer(500, 'No cluster leader'));
    const probe = new ReachabilityProbe(a, { clock, random: seededRandom(4) });
    cleanups.push(() => probe.dispose());
    const one = new AbortController();
    const two = new AbortController();
    const first = probe.whenAnswering(one.signal);
    const second = probe.whenAnswering(two.signal);
    await advance(clock, 3000);
    const sent = a.calls.length;
    expect(sent).toBeGreaterThanOrEqual(2);
    one.abort(new Error('one gone'));
    await expect(first).rejects.toThrow('one gone');
    await advance(clock, 3000);
    expect(a.calls.length).toBeGreaterThan(sent); // still someone waiting
    two.abort(new Error('two gone'));
    await expect(second).rejects.toThrow('two gone');
    const after = a.calls.length;
    await advance(clock, 5000);
    expect(a.calls.length).toBe(after);
    expect(clock.pending).toBe(0);
  });

  it('dispose() rejects the waiters and aborts the probe in flight', async () => {
    const clock = new ManualClock();
    const calls: ConsulRequest[] = [];
    const hung = {
      request(req: ConsulRequest): Promise<ConsulResponse> {
        calls.push(req);
        return new Promise((_, reject) =>
          req.signal?.addEventListener('abort', () => reject(req.signal?.reason)),
        );
      },
    };
    const probe = new ReachabilityProbe(hung, { clock, random: seededRandom(5) });
    const waiting = probe.whenAnswering();
    await advance(clock, 1300);
    expect(calls).toHaveLength(1);
    probe.dispose();
    await expect(waiting).rejects.toThrow(/closed/);
    expect(calls[0]!.signal!.aborted).toBe(true);
    await expect(probe.whenAnswering()).rejects.toThrow(/closed/);
    expect(clock.pending).toBe(0);
  });

  it('through a ConsulConnection: one real request for several waiters, and close() ends the waits', async () => {
    const s = await scriptedAgent({
      '/v1/status/leader': (_req, _body, res) => res.writeHead(200).end('"127.0.0.1:8300"'),
    });
    const clock = new ManualClock();
    const connection = new ConsulConnection(
      { address: s.connection.address },
      { clock, random: seededRandom(6) },
    );
    cleanups.push(async () => {
      await connection.close();
      await s.close();
    });
    const waits = [connection.whenAnswering(), connection.whenAnswering(), connection.whenAnswering()];
    for (let i = 0; i < 100 && s.requests.length === 0; i++) {
      clock.advance(50);
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(waits);
    expect(s.requests).toEqual(['GET /v1/status/leader']);
    const late = expect(connection.whenAnswering()).rejects.toThrow(/closed/);
    await connection.close();
    await late;
    await expect(connection.whenAnswering()).rejects.toThrow(/closed/);
    expect(clock.pending).toBe(0);
  });
});

describe('hasLeader / endsWithReachability', () => {
  it('counts only a 200 naming a leader as answering', () => {
    expect(hasLeader(answer(200, '"127.0.0.1:8300"'))).toBe(true);
    expect(hasLeader(answer(200, '""'))).toBe(false);
    expect(hasLeader(answer(200, ''))).toBe(false);
    expect(hasLeader(answer(200, '{"a":1}'))).toBe(false);
    expect(hasLeader(answer(500, '"127.0.0.1:8300"'))).toBe(false);
    expect(hasLeader(answer(200, `"${'x'.repeat(2000)}"`))).toBe(false);
  });

  it('vouches only for unreachable or leaderless failures', () => {
    expect(endsWithReachability(new ConsulError('consul GET /v1/kv/x: ECONNREFUSED'))).toBe(true);
    expect(endsWithReachability(new ConsulError('HTTP 503', { status: 503 }))).toBe(true);
    expect(endsWithReachability(new ConsulError('HTTP 500 No cluster leader', { status: 500 }))).toBe(true);
    expect(endsWithReachability(new ConsulError('HTTP 500 rpc error: broken', { status: 500 }))).toBe(false);
    expect(endsWithReachability(new ConsulPermissionError('HTTP 403 Permission denied', 'key:read'))).toBe(
      false,
    );
    expect(endsWithReachability(new ConsulError('HTTP 404', { status: 404, retryable: false }))).toBe(false);
    expect(endsWithReachability(new ConsulError('consul connection is closed', { retryable: false }))).toBe(
      false,
    );
    expect(endsWithReachability(new SyntaxError('bad JSON'))).toBe(false);
  });
});
