import { endpoint, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { BreakerAware } from './breaker-aware.ts';
import { createBalancer, rebuildBalancer } from './create-balancer.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import { countPicks } from './test-support.ts';

const eps = ['a', 'b', 'c', 'd'].map((id) => endpoint(id));
const ids = eps.map((e) => e.id);

function stack(
  clock: ManualClock,
  rule: Parameters<typeof createBalancer>[0] = { algorithm: 'round-robin' },
) {
  const b = createBalancer(rule, { now: clock.now, random: seededRandom(11) });
  b.update(eps);
  return b;
}

describe('BreakerAware', () => {
  it('avoids an endpoint marked unavailable until its time, then takes it back', () => {
    const clock = new ManualClock();
    const b = stack(clock);
    b.handleOf('b')!.markUnavailable(clock.now() + 5000);
    expect(b.breakerAware.unavailableIds).toEqual(['b']);
    expect(b.handleOf('b')!.available).toBe(false);
    expect(countPicks(b.picker, ids, 300)).toEqual([100, 0, 100, 100]);
    clock.advance(4999);
    expect(countPicks(b.picker, ids, 30)[1]).toBe(0);
    // Due: the next pick brings it back (the breaker lets a probe through from then on).
    clock.advance(1);
    expect(countPicks(b.picker, ids, 400)).toEqual([100, 100, 100, 100]);
    expect(b.breakerAware.unavailableIds).toEqual([]);
  });

  it('markAvailable brings it back at once; unavailable without a time stays out until then', () => {
    const clock = new ManualClock();
    const b = stack(clock, { algorithm: 'p2c-peak-ewma' });
    const c = b.handleOf('c')!;
    c.markUnavailable();
    clock.advance(3_600_000);
    expect(countPicks(b.picker, ids, 300)[2]).toBe(0);
    c.markAvailable();
    expect(countPicks(b.picker, ids, 400)[2]).toBeGreaterThan(40);
  });

  it('with every endpoint unavailable, picks from all of them (the breakers turn calls away)', () => {
    const clock = new ManualClock();
    const b = stack(clock);
    for (const id of ids) b.handleOf(id)!.markUnavailable(clock.now() + 1000);
    expect(countPicks(b.picker, ids, 400)).toEqual([100, 100, 100, 100]);
  });

  it('costs nothing while no endpoint is marked: the picker is the layer below', () => {
    const clock = new ManualClock();
    const b = stack(clock);
    expect(b.picker).toBe(b.outlier!.picker);
    b.handleOf('a')!.markUnavailable(1000);
    expect(b.picker).not.toBe(b.outlier!.picker);
    b.handleOf('a')!.markAvailable();
    expect(b.picker).toBe(b.outlier!.picker);
  });

  it('outlier ejections take effect with and without an endpoint marked', () => {
    const clock = new ManualClock();
    const b = stack(clock, {
      algorithm: 'round-robin',
      outlier: { consecutiveErrors: 1, maxEjectionPercent: 50 },
    });
    const c = b.handleOf('c')!;
    c.started();
    c.ended(1, false, 503);
    expect(countPicks(b.picker, ids, 300)).toEqual([100, 100, 0, 100]);
    clock.advance(30_000);
    b.handleOf('b')!.ended(1, true, 200);
    expect(b.ejectedIds).toEqual([]);
    b.handleOf('a')!.markUnavailable(clock.now() + 10_000);
    const d = b.handleOf('d')!;
    d.started();
    d.ended(1, false, 503);
    expect(b.ejectedIds).toEqual(['d']);
    expect(countPicks(b.picker, ids, 200)).toEqual([0, 100, 100, 0]);
  });

  it('the status survives a rule change and a membership change', () => {
    const clock = new ManualClock();
    const b = stack(clock);
    b.handleOf('a')!.markUnavailable(clock.now() + 10_000);
    const next = rebuildBalancer(b, { algorithm: 'random' }, { now: clock.now, random: seededRandom(12) });
    expect(countPicks(next.picker, ids, 300)[0]).toBe(0);
    next.update([...eps, endpoint('e')]);
    expect(countPicks(next.picker, [...ids, 'e'], 300)[0]).toBe(0);
    // A marking on the disposed stack's store reaches the new stack (they share it).
    next.handleOf('b')!.markUnavailable(clock.now() + 10_000);
    expect(countPicks(next.picker, [...ids, 'e'], 300)[1]).toBe(0);
  });

  it('wraps any stateful balancer, and gives the layers below handles', () => {
    const clock = new ManualClock();
    const layer = new BreakerAware(new RoundRobinBalancer({ now: clock.now, random: seededRandom(13) }));
    layer.update(eps);
    const picked = layer.picker.pick()!;
    expect(picked).toBe(layer.stats.handleOf(picked.id));
    layer.stats.handleOf('a')!.markUnavailable(500);
    expect(countPicks(layer.picker, ids, 300)[0]).toBe(0);
    layer.dispose();
    expect(layer.stats.availability).toBeUndefined();
  });
});
