import type { Endpoint } from '@meshless/core';
import { endpoint, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { EndpointStatsStore } from './endpoint-stats.ts';
import { type EjectionEvent, OutlierEjection, type OutlierEjectionOptions } from './outlier-ejection.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import { countPicks } from './test-support.ts';

function setup(n: number, options: OutlierEjectionOptions = {}) {
  const clock = new ManualClock();
  const stats = new EndpointStatsStore({ now: clock.now });
  const child = new RoundRobinBalancer({ stats, random: seededRandom(1) });
  const b = new OutlierEjection(child, {
    consecutiveErrors: 3,
    intervalMs: 10_000,
    baseEjectionMs: 30_000,
    ...options,
  });
  const eps = Array.from({ length: n }, (_, i) => endpoint(`e${i}`));
  b.update(eps);
  const events: EjectionEvent[] = [];
  b.onDidEject((e) => events.push(e));
  const fail = (ep: Endpoint, times: number) => {
    for (let i = 0; i < times; i++) {
      b.onCallStart(ep);
      b.onCallEnd(ep, { latencyMs: 1, ok: false, status: 503 });
    }
  };
  const succeed = (ep: Endpoint, times = 1) => {
    for (let i = 0; i < times; i++) {
      b.onCallStart(ep);
      b.onCallEnd(ep, { latencyMs: 1, ok: true });
    }
  };
  const ids = eps.map((e) => e.id);
  const picked = () => new Set(countPicks(b.picker, ids, n * 3).flatMap((c, i) => (c > 0 ? [ids[i]!] : [])));
  return { clock, b, eps, events, fail, succeed, picked };
}

/** Connections to `ep` refused `times` times in a row. */
function refuse(b: OutlierEjection, ep: Endpoint, times: number) {
  for (let i = 0; i < times; i++) {
    b.onCallStart(ep);
    b.onCallEnd(ep, { latencyMs: 0.1, ok: false, failure: 'connect' });
  }
}

describe('OutlierEjection', () => {
  it('ejects after consecutive errors and returns the endpoint when the ejection expires', () => {
    const { clock, b, eps, events, fail, succeed, picked } = setup(10);
    fail(eps[2]!, 2);
    succeed(eps[2]!); // the run is broken: no ejection
    fail(eps[2]!, 2);
    expect(b.ejectedIds).toEqual([]);
    fail(eps[2]!, 1);
    expect(b.ejectedIds).toEqual(['e2']);
    expect(events).toEqual([
      { endpoint: eps[2], reason: 'consecutive-errors', ejections: 1, durationMs: 30_000, until: 30_000 },
    ]);
    expect(picked().has('e2')).toBe(false);
    clock.advance(29_999);
    succeed(eps[0]!); // expiry is checked lazily on calls
    expect(b.ejectedIds).toEqual(['e2']);
    clock.advance(1);
    succeed(eps[0]!);
    expect(b.ejectedIds).toEqual([]);
    expect(picked().has('e2')).toBe(true);
  });

  it('ejects by default after 3 connect errors in a row, for 30 s', () => {
    const clock = new ManualClock();
    const stats = new EndpointStatsStore({ now: clock.now });
    const b = new OutlierEjection(new RoundRobinBalancer({ stats, random: seededRandom(2) }));
    const eps = Array.from({ length: 10 }, (_, i) => endpoint(`e${i}`));
    b.update(eps);
    const events: EjectionEvent[] = [];
    b.onDidEject((e) => events.push(e));
    refuse(b, eps[3]!, 2);
    expect(b.ejectedIds).toEqual([]);
    refuse(b, eps[3]!, 1);
    expect(b.ejectedIds).toEqual(['e3']);
    expect(events).toEqual([
      { endpoint: eps[3], reason: 'connect-errors', ejections: 1, durationMs: 30_000, until: 30_000 },
    ]);
    clock.advance(30_000);
    b.onCallStart(eps[0]!);
    expect(b.ejectedIds).toEqual([]);
  });

  it('counts only connect errors in the connect-error run; any HTTP answer breaks it', () => {
    const { b, eps, events } = setup(10, { consecutiveErrors: 0 });
    refuse(b, eps[1]!, 2);
    b.onCallStart(eps[1]!);
    b.onCallEnd(eps[1]!, { latencyMs: 1, ok: false, status: 503 }); // it answered: it is reachable
    refuse(b, eps[1]!, 2);
    b.onCallStart(eps[1]!);
    b.onCallEnd(eps[1]!, { latencyMs: 1000, ok: false }); // a timeout or reset neither counts nor breaks the run
    expect(b.ejectedIds).toEqual([]);
    refuse(b, eps[1]!, 1);
    expect(b.ejectedIds).toEqual(['e1']);
    expect(events[0]).toMatchObject({ reason: 'connect-errors' });
    const off = setup(3, { consecutiveErrors: 0, consecutiveConnectErrors: 0 });
    refuse(off.b, off.eps[0]!, 10);
    expect(off.b.ejectedIds).toEqual([]);
  });

  it('makes the second ejection last twice as long, capped by maxEjectionMs', () => {
    const { clock, b, eps, events, fail, succeed } = setup(10, { maxEjectionMs: 70_000 });
    fail(eps[1]!, 3);
    clock.advance(30_000);
    succeed(eps[0]!);
    expect(b.ejectedIds).toEqual([]);
    fail(eps[1]!, 3);
    expect(events[1]).toMatchObject({ ejections: 2, durationMs: 60_000, until: 90_000 });
    clock.advance(59_999);
    succeed(eps[0]!);
    expect(b.ejectedIds).toEqual(['e1']);
    clock.advance(1);
    succeed(eps[0]!);
    expect(b.ejectedIds).toEqual([]);
    fail(eps[1]!, 3);
    expect(events[2]).toMatchObject({ ejections: 3, durationMs: 70_000 });
  });

  it('shortens the next ejection again after healthy intervals', () => {
    const { clock, eps, events, fail, succeed } = setup(10);
    fail(eps[1]!, 3);
    clock.advance(30_000);
    succeed(eps[0]!);
    for (let i = 0; i < 3; i++) {
      clock.advance(10_000);
      succeed(eps[0]!); // interval ticks: healthy for a whole interval, the count decays
    }
    fail(eps[1]!, 3);
    expect(events[1]).toMatchObject({ ejections: 1, durationMs: 30_000 });
  });

  it('never ejects more than maxEjectionPercent, but at least one endpoint', () => {
    const ten = setup(10, { maxEjectionPercent: 20 });
    for (const ep of ten.eps.slice(0, 4)) ten.fail(ep, 3);
    expect(ten.b.ejectedIds).toEqual(['e0', 'e1']);
    const three = setup(3, { maxEjectionPercent: 10 });
    for (const ep of three.eps) three.fail(ep, 3);
    expect(three.b.ejectedIds).toEqual(['e0']);
    const none = setup(3, { maxEjectionPercent: 0 });
    none.fail(none.eps[0]!, 10);
    expect(none.b.ejectedIds).toEqual([]);
  });

  it('ejects success-rate outliers at the interval (mean - 1.9 stddev, with a minimum volume)', () => {
    const { clock, b, eps, events, fail, succeed } = setup(10, {
      consecutiveErrors: 0,
      maxEjectionPercent: 50,
      successRate: { minRequests: 50, stdevFactor: 1.9, minEndpoints: 5 },
    });
    for (const ep of eps.slice(0, 9)) {
      if (ep.id === 'e4') {
        succeed(ep, 25); // 50% success
        fail(ep, 25);
      } else {
        succeed(ep, 99); // 99% success
        fail(ep, 1);
      }
    }
    fail(eps[9]!, 10); // 0% success, but 10 calls are too few to be judged
    expect(b.ejectedIds).toEqual([]); // nothing happens before the interval
    clock.advance(10_000);
    succeed(eps[0]!);
    expect(b.ejectedIds).toEqual(['e4']);
    expect(events[0]).toMatchObject({ reason: 'success-rate', endpoint: eps[4] });
  });

  it('needs minEndpoints judged endpoints before judging success rates', () => {
    const run = (minEndpoints: number) => {
      const t = setup(10, { consecutiveErrors: 0, successRate: { minRequests: 50, minEndpoints } });
      for (const ep of t.eps.slice(0, 4)) t.succeed(ep, 60);
      t.fail(t.eps[4]!, 60);
      t.clock.advance(10_000);
      t.succeed(t.eps[0]!);
      return t.b.ejectedIds;
    };
    expect(run(5)).toEqual(['e4']);
    expect(run(6)).toEqual([]);
  });

  it('drops ejection state of endpoints that leave, and stops firing after dispose', () => {
    const { b, eps, events, fail } = setup(10);
    fail(eps[0]!, 3);
    b.update(eps.slice(1));
    expect(b.ejectedIds).toEqual([]);
    b.update(eps);
    expect(b.stats.get('e0')!.ejections).toBe(0);
    b.dispose();
    fail(eps[0]!, 3);
    expect(events).toHaveLength(1);
  });
});
