import { inspect } from 'node:util';
import { endpoint, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { createBalancer, rebuildBalancer } from './create-balancer.ts';
import { EndpointHandle } from './endpoint-handle.ts';
import { countPicks } from './test-support.ts';

const eps = ['a', 'b', 'c', 'd'].map((id) => endpoint(id, { zone: 'z1' }));
const ids = eps.map((e) => e.id);

describe('EndpointHandle', () => {
  it('is what a stack picks: reads as its endpoint field for field, serialises as it, with its stats', () => {
    const clock = new ManualClock();
    const b = createBalancer({ algorithm: 'round-robin' }, { now: clock.now, random: seededRandom(1) });
    b.update(eps);
    const h = b.pickHandle()!;
    expect(h).toBeInstanceOf(EndpointHandle);
    const ep = eps.find((e) => e.id === h.id)!;
    for (const key of ['id', 'service', 'address', 'port', 'tags', 'meta', 'weight', 'zone'] as const) {
      expect(h[key]).toBe(ep[key]);
    }
    expect(h.region).toBeUndefined();
    expect(JSON.parse(JSON.stringify(h))).toEqual(JSON.parse(JSON.stringify(ep)));
    expect(inspect(h)).toBe(inspect(ep));
    expect(h.endpoint).toBe(ep);
    expect(h.stats).toBe(b.stats.get(h.id));
    expect(b.handleOf(h.id)).toBe(h);
    // Unchanged membership keeps the handle; a new Endpoint object for the id gets a new one.
    b.update(eps);
    expect(b.handleOf(h.id)).toBe(h);
    b.update(eps.map((e) => ({ ...e })));
    expect(b.handleOf(h.id)).not.toBe(h);
    expect(b.handleOf(h.id)!.stats).toBe(h.stats);
  });

  it('started/ended steer least-request like onCallStart/onCallEnd', () => {
    const b = createBalancer({ algorithm: 'least-request' }, { random: seededRandom(2) });
    b.update(eps);
    const a = b.handleOf('a')!;
    const c = b.handleOf('c')!;
    for (let i = 0; i < 5; i++) a.started();
    c.started();
    expect(a.stats.pending).toBe(5);
    // 'a' is busiest, so P2C never picks it over another; 'c' loses every duel with b and d.
    const counts = countPicks(b.picker, ids, 600);
    expect(counts[0]).toBe(0);
    expect(counts[2]).toBeLessThan(counts[1]!);
    for (let i = 0; i < 5; i++) a.ended(3, true, 200);
    c.ended(3, true, 200);
    expect(a.stats.pending).toBe(0);
    expect(a.stats.successes).toBe(5);
    expect(countPicks(b.picker, ids, 400).every((n) => n > 50)).toBe(true);
  });

  it('records exactly what onCallEnd records', () => {
    const clock = new ManualClock(1000);
    const outcomes = [
      { latencyMs: 12, ok: true, status: 200 },
      { latencyMs: 3, ok: false, status: 503 },
      { latencyMs: 0.2, ok: false, failure: 'connect' as const },
      { latencyMs: 40, ok: false, failure: 'cancelled' as const },
      { latencyMs: 7, ok: true, status: 204 },
    ];
    const viaHandle = createBalancer({ outlier: false }, { now: clock.now, random: seededRandom(3) });
    const viaApi = createBalancer({ outlier: false }, { now: clock.now, random: seededRandom(3) });
    viaHandle.update(eps);
    viaApi.update(eps);
    for (const o of outcomes) {
      const h = viaHandle.handleOf('b')!;
      h.started();
      viaApi.onCallStart(eps[1]!);
      clock.advance(5);
      h.ended(o.latencyMs, o.ok, o.status, o.failure);
      viaApi.onCallEnd(eps[1]!, o);
      expect({ ...viaHandle.stats.get('b')! }).toEqual({ ...viaApi.stats.get('b')! });
    }
  });

  it("records an end at the caller's clock reading as at its own", () => {
    const clock = new ManualClock(1000);
    const given = createBalancer({ outlier: false }, { now: clock.now, random: seededRandom(3) });
    const read = createBalancer({ outlier: false }, { now: clock.now, random: seededRandom(3) });
    given.update(eps);
    read.update(eps);
    clock.advance(5);
    given.handleOf('b')!.ended(12, true, 200, undefined, clock.now());
    read.handleOf('b')!.ended(12, true, 200);
    expect({ ...given.stats.get('b')! }).toEqual({ ...read.stats.get('b')! });
    // A given time is the one recorded (the decay of the estimate starts there).
    given.handleOf('b')!.ended(30, true, 200, undefined, clock.now() + 1000);
    expect(given.stats.get('b')!.ewmaAt).toBe(clock.now() + 1000);
  });

  it('reports failures to outlier ejection: connect errors in a row eject', () => {
    const clock = new ManualClock();
    const b = createBalancer(undefined, { now: clock.now, random: seededRandom(4) });
    b.update(eps);
    const ejected: string[] = [];
    b.onDidEject((e) => ejected.push(e.endpoint.id));
    const c = b.handleOf('c')!;
    for (let i = 0; i < 3; i++) {
      c.started();
      c.ended(0.1, false, undefined, 'connect');
    }
    expect(ejected).toEqual(['c']);
    expect(b.ejectedIds).toEqual(['c']);
    expect(countPicks(b.picker, ids, 200)[2]).toBe(0);
    // The ejection ends lazily at a later call's end (30 s by default), not at its start.
    clock.advance(30_000);
    const a = b.handleOf('a')!;
    a.started();
    expect(b.ejectedIds).toEqual(['c']);
    a.ended(2, true, 200);
    expect(b.ejectedIds).toEqual([]);
  });

  it('a handle picked before a rule change reports to the new stack', () => {
    const clock = new ManualClock();
    const old = createBalancer({ outlier: false }, { now: clock.now, random: seededRandom(5) });
    old.update(eps);
    const d = old.handleOf('d')!;
    d.started();
    const next = rebuildBalancer(old, { outlier: { consecutiveErrors: 2 } }, { now: clock.now });
    const ejected: string[] = [];
    next.onDidEject((e) => ejected.push(e.endpoint.id));
    expect(next.handleOf('d')).toBe(d);
    d.ended(2, false, 500);
    d.started();
    d.ended(2, false, 500);
    expect(ejected).toEqual(['d']);
    expect(d.stats.pending).toBe(0);
  });

  it('ignores the late end of a call to an endpoint that left', () => {
    const b = createBalancer({ outlier: { consecutiveErrors: 1 } }, { random: seededRandom(6) });
    b.update(eps);
    const ejected: string[] = [];
    b.onDidEject((e) => ejected.push(e.endpoint.id));
    const a = b.handleOf('a')!;
    a.started();
    b.update(eps.slice(1));
    a.ended(1, false, 500);
    expect(ejected).toEqual([]);
    // Back with fresh stats: the old handle's reports never reach them.
    b.update(eps);
    expect(b.handleOf('a')).not.toBe(a);
    expect(b.stats.get('a')!.pending).toBe(0);
  });

  it('keeps what the caller attached (its breaker) while the id is known', () => {
    const b = createBalancer({ algorithm: 'random' }, { random: seededRandom(7) });
    b.update(eps);
    const breaker = { state: 'closed' as const };
    b.handleOf<typeof breaker>('a')!.breaker = breaker;
    b.update(eps.map((e) => ({ ...e, weight: 2 })));
    expect(b.handleOf<typeof breaker>('a')!.breaker).toBe(breaker);
    const next = rebuildBalancer(b, { algorithm: 'least-request' });
    expect(next.handleOf<typeof breaker>('a')!.breaker).toBe(breaker);
    expect(next.handleOf('b')!.breaker).toBeUndefined();
  });
});
