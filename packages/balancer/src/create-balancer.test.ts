import { ConfigError, type Endpoint } from '@meshless/core';
import { endpoint, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { type BalancerStack, createBalancer, rebuildBalancer } from './create-balancer.ts';
import { LocalityAware } from './locality.ts';
import { OutlierEjection } from './outlier-ejection.ts';
import { binomialBand, countPicks } from './test-support.ts';

const eps = ['a', 'b', 'c', 'd'].map((id, i) => endpoint(id, { zone: i < 2 ? 'z1' : 'z2', region: 'r' }));
const ids = eps.map((e) => e.id);

function fail(b: BalancerStack, ep: Endpoint, times: number) {
  for (let i = 0; i < times; i++) {
    b.onCallStart(ep);
    b.onCallEnd(ep, { latencyMs: 1, ok: false });
  }
}

function refuse(b: BalancerStack, ep: Endpoint, times: number) {
  for (let i = 0; i < times; i++) {
    b.onCallStart(ep);
    b.onCallEnd(ep, { latencyMs: 0.1, ok: false, failure: 'connect' });
  }
}

describe('createBalancer', () => {
  it('builds the default stack: p2c-peak-ewma, ejection on connect errors only', () => {
    const b = createBalancer(undefined, { random: seededRandom(1) });
    b.update(eps);
    expect(b.rule.algorithm).toBe('p2c-peak-ewma');
    expect(b.outlier).toBeInstanceOf(OutlierEjection);
    expect(b.rule.outlier).toMatchObject({
      consecutiveErrors: 0,
      consecutiveConnectErrors: 3,
      baseEjectionMs: 30_000,
      maxEjectionPercent: 10,
      successRate: undefined,
    });
    expect(b.locality).toBeUndefined(); // no local zone given
    expect(b.ejectedIds).toEqual([]);
    expect(countPicks(b.picker, ids, 400).every((c) => c > 50)).toBe(true);
    // 5xx answers alone never eject without a rule that asks for it.
    fail(b, eps[0]!, 20);
    expect(b.ejectedIds).toEqual([]);
  });

  it('ejects an endpoint after 3 connect errors with no rule, but never the whole fleet', () => {
    const clock = new ManualClock();
    const b = createBalancer(undefined, { now: clock.now, random: seededRandom(9) });
    b.update(eps);
    refuse(b, eps[0]!, 3);
    expect(b.ejectedIds).toEqual(['a']);
    expect(countPicks(b.picker, ids, 300)[0]).toBe(0);
    // Every instance is down: at most maxEjectionPercent (but one) is ejected, and the picker
    // still answers (the panic threshold balances over all when too few are left).
    for (const ep of eps.slice(1)) refuse(b, ep, 3);
    expect(b.ejectedIds).toEqual(['a']);
    expect(b.picker.pick()).toBeDefined();
    clock.advance(30_000);
    b.onCallStart(eps[1]!);
    expect(b.ejectedIds).toEqual([]);
  });

  it('turns ejection off with outlier: false', () => {
    const b = createBalancer({ outlier: false }, { random: seededRandom(10) });
    b.update(eps);
    expect(b.outlier).toBeUndefined();
    refuse(b, eps[0]!, 10);
    expect(b.ejectedIds).toEqual([]);
  });

  it('builds every algorithm in the schema', () => {
    for (const algorithm of [
      'round-robin',
      'weighted-round-robin',
      'random',
      'least-request',
      'ring-hash',
      'maglev',
    ] as const) {
      const b = createBalancer({ algorithm, hashOn: { header: 'x' } }, { random: seededRandom(2) });
      b.update(eps);
      expect(b.rule.algorithm).toBe(algorithm);
      expect(ids).toContain(b.picker.pick({ hashKey: 'k' })!.id);
    }
  });

  it('throws ConfigError naming the field for a bad rule given in code', () => {
    expect(() => createBalancer({ algorithm: 'ring-hash' })).toThrow(ConfigError);
    try {
      createBalancer({ algorithm: 'ring-hash' });
    } catch (error) {
      expect((error as ConfigError).path).toBe('hashOn');
    }
  });

  it('stacks outlier ejection, panic threshold and locality from the rule', () => {
    const clock = new ManualClock();
    const b = createBalancer(
      {
        algorithm: 'round-robin',
        outlier: { consecutiveErrors: 2, maxEjectionPercent: 50 },
        locality: { minHealthyPercent: 0 },
      },
      { now: clock.now, random: seededRandom(3), localZone: 'z1', localRegion: 'r' },
    );
    b.update(eps);
    expect(b.outlier).toBeInstanceOf(OutlierEjection);
    expect(b.locality).toBeInstanceOf(LocalityAware);
    expect(countPicks(b.picker, ids, 100)).toEqual([50, 50, 0, 0]);
    const ejected: string[] = [];
    b.onDidEject((e) => ejected.push(e.endpoint.id));
    fail(b, eps[0]!, 2);
    expect(b.ejectedIds).toEqual(['a']);
    expect(ejected).toEqual(['a']);
    // z1 holds 1 of the 3 healthy but needs half: (1/3) / (1/2) = 2/3 stays local.
    expect(b.locality!.plan.mode).toBe('spill');
    expect(b.locality!.plan.localPercent).toBeCloseTo(200 / 3, 9);
    const counts = countPicks(b.picker, ids, 4000);
    const [lo, hi] = binomialBand(4000, 2 / 3);
    expect(counts[0]).toBe(0);
    expect(counts[1]).toBeGreaterThan(lo);
    expect(counts[1]).toBeLessThan(hi);
  });

  it('honours exclude through the whole stack', () => {
    const b = createBalancer({ outlier: {} }, { random: seededRandom(4), localZone: 'z1' });
    b.update(eps);
    const counts = countPicks(b.picker, ids, 200, { exclude: new Set(['a', 'b', 'c']) });
    expect(counts).toEqual([0, 0, 0, 200]);
  });

  it('carries stats across update(): kept for endpoints that stay, dropped for removed ones', () => {
    const b = createBalancer({ algorithm: 'least-request' }, { random: seededRandom(5) });
    b.update(eps);
    b.onCallStart(eps[0]!);
    b.onCallEnd(eps[1]!, { latencyMs: 40, ok: true });
    b.update([...eps.slice(0, 3), endpoint('e')]);
    expect(b.stats.get('a')!.pending).toBe(1);
    expect(b.stats.get('b')!.ewmaMs).toBe(40);
    expect(b.stats.get('d')).toBeUndefined();
    expect(b.stats.get('e')!.pending).toBe(0);
  });
});

describe('rebuildBalancer', () => {
  it('swaps the algorithm keeping pending counts, latency estimates, ejections and first-seen times', () => {
    const clock = new ManualClock();
    const deps = { now: clock.now, random: seededRandom(6) };
    const old = createBalancer(
      { algorithm: 'round-robin', outlier: { consecutiveErrors: 1, maxEjectionPercent: 50 } },
      deps,
    );
    old.update(eps);
    old.onCallStart(eps[1]!);
    old.onCallStart(eps[1]!);
    old.onCallEnd(eps[2]!, { latencyMs: 300, ok: true });
    fail(old, eps[0]!, 1);
    clock.advance(1000);
    const next = rebuildBalancer(
      old,
      { algorithm: 'p2c-peak-ewma', outlier: { consecutiveErrors: 1, maxEjectionPercent: 50 } },
      deps,
    );
    expect(next.stats).toBe(old.stats);
    expect(next.stats.get('b')!.pending).toBe(2);
    expect(next.stats.get('c')!.ewmaMs).toBe(300);
    expect(next.stats.get('a')!.firstSeen).toBe(0);
    expect(next.ejectedIds).toEqual(['a']);
    // The new picker already uses the carried state: a is out, c is slow, b is busy: d wins.
    const counts = countPicks(next.picker, ids, 1000);
    expect(counts[0]).toBe(0);
    expect(counts[3]).toBeGreaterThan(counts[1]!);
    // The ejection still ends on time under the new stack.
    clock.advance(29_000);
    next.onCallStart(eps[3]!);
    expect(next.ejectedIds).toEqual([]);
  });

  it('forgets ejections and slow-start ramps the new rule has no layer for', () => {
    const clock = new ManualClock();
    const deps = { now: clock.now, random: seededRandom(7) };
    const old = createBalancer(
      {
        algorithm: 'weighted-round-robin',
        outlier: { consecutiveErrors: 1, maxEjectionPercent: 50 },
        slowStartMs: 10_000,
      },
      deps,
    );
    old.update(eps.slice(0, 3));
    old.update(eps); // d ramps
    fail(old, eps[0]!, 1);
    expect(old.stats.get('d')!.weightScale).toBeLessThan(1);
    const next = rebuildBalancer(old, { algorithm: 'weighted-round-robin' }, deps);
    expect(next.ejectedIds).toEqual([]);
    expect(next.stats.get('d')!.weightScale).toBe(1);
    expect(countPicks(next.picker, ids, 400)).toEqual([100, 100, 100, 100]);
  });

  it('keeps the old balancer when the new rule is invalid', () => {
    const old = createBalancer({}, { random: seededRandom(8) });
    old.update(eps);
    expect(() => rebuildBalancer(old, { algorithm: 'maglev' })).toThrow(ConfigError);
    expect(old.picker.pick()).toBeDefined();
  });
});
