import type { Endpoint } from '@meshless/core';
import { endpoint, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { EndpointStatsStore } from './endpoint-stats.ts';
import { LocalityAware, type LocalityOptions } from './locality.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import { binomialBand, countPicks } from './test-support.ts';

/** `spec`: endpoints per zone as [zone, region, count]. */
function cluster(spec: [string, string, number][]): Endpoint[] {
  return spec.flatMap(([zone, region, n]) =>
    Array.from({ length: n }, (_, i) => endpoint(`${zone}-${i}`, { zone, region })),
  );
}

function setup(all: Endpoint[], options: LocalityOptions) {
  const stats = new EndpointStatsStore({ now: () => 0 });
  const random = seededRandom(7);
  const b = new LocalityAware((s) => new RoundRobinBalancer({ stats: s, random }), stats, {
    random,
    ...options,
  });
  stats.sync(all);
  /** Rebuild over the healthy ones, as the panic layer does after ejections. */
  const healthy = (list: Endpoint[]) => b.rebuild(list);
  const zoneShares = (n: number) => {
    const picks = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const z = b.picker.pick()!.zone!;
      picks.set(z, (picks.get(z) ?? 0) + 1);
    }
    return picks;
  };
  return { b, healthy, zoneShares };
}

describe('LocalityAware', () => {
  it('keeps everything in the local zone while it has its share of healthy endpoints', () => {
    const all = cluster([
      ['a', 'r', 5],
      ['b', 'r', 5],
      ['c', 'r', 5],
    ]);
    const { b, healthy, zoneShares } = setup(all, { localZone: 'a' });
    healthy(all);
    expect(b.plan).toEqual({ mode: 'local', localPercent: 100, spillPercent: {} });
    expect(zoneShares(1000).get('a')).toBe(1000);
  });

  it('spills over in proportion when the local zone has 2 of 5 healthy (Envoy computation)', () => {
    const all = cluster([
      ['a', 'r', 5],
      ['b', 'r', 5],
      ['c', 'r', 5],
    ]);
    const { b, healthy, zoneShares } = setup(all, { localZone: 'a', minHealthyPercent: 70 });
    // a keeps 2 of 5: healthy shares a 2/12, b 5/12, c 5/12; each zone needs 1/3.
    healthy(all.filter((ep) => !['a-2', 'a-3', 'a-4'].includes(ep.id)));
    // local: (2/12) / (1/3) = 50%; b and c each have a surplus of 5/12 - 1/3: 25% each.
    expect(b.plan.mode).toBe('spill');
    expect(b.plan.localPercent).toBeCloseTo(50, 9);
    expect(b.plan.spillPercent.b).toBeCloseTo(25, 9);
    expect(b.plan.spillPercent.c).toBeCloseTo(25, 9);
    const n = 20_000;
    const shares = zoneShares(n);
    const [lo, hi] = binomialBand(n, 0.5);
    expect(shares.get('a')).toBeGreaterThan(lo);
    expect(shares.get('a')).toBeLessThan(hi);
    const [lo2, hi2] = binomialBand(n, 0.25);
    expect(shares.get('b')).toBeGreaterThan(lo2);
    expect(shares.get('b')).toBeLessThan(hi2);
  });

  it('spills by surplus: a zone that only has its own share gets none of the spill', () => {
    // a: 4 known, 1 healthy; b: 4 known, 4 healthy; c: 2 known, 2 healthy.
    const all = cluster([
      ['a', 'r', 4],
      ['b', 'r', 4],
      ['c', 'r', 2],
    ]);
    const { b, healthy } = setup(all, { localZone: 'a', minHealthyPercent: 0 });
    healthy(all.filter((ep) => ep.zone !== 'a' || ep.id === 'a-0'));
    // healthy 7: a 1/7 vs need 0.4 -> local 35.7%; surplus b 4/7 - 0.4 = 0.171, c 2/7 - 0.2 = 0.086
    expect(b.plan.localPercent).toBeCloseTo((1 / 7 / 0.4) * 100, 9);
    const spill = 100 - b.plan.localPercent;
    expect(b.plan.spillPercent.b).toBeCloseTo((spill * (4 / 7 - 0.4)) / (4 / 7 - 0.4 + 2 / 7 - 0.2), 9);
    expect(b.plan.spillPercent.c).toBeCloseTo((spill * (2 / 7 - 0.2)) / (4 / 7 - 0.4 + 2 / 7 - 0.2), 9);
  });

  it('ignores locality below minHealthyPercent', () => {
    const all = cluster([
      ['a', 'r', 5],
      ['b', 'r', 5],
    ]);
    const { b, healthy, zoneShares } = setup(all, { localZone: 'a', minHealthyPercent: 70 });
    healthy(all.filter((ep) => !['a-1', 'a-2', 'a-3', 'a-4'].includes(ep.id))); // 6 of 10 healthy
    expect(b.plan.mode).toBe('all');
    expect(zoneShares(600)).toEqual(
      new Map([
        ['a', 100],
        ['b', 500],
      ]),
    );
  });

  it('goes to the rest of the region when the local zone has no healthy endpoint, then anywhere', () => {
    const all = cluster([
      ['a', 'eu', 2],
      ['b', 'eu', 2],
      ['x', 'us', 4],
    ]);
    const { b, healthy, zoneShares } = setup(all, {
      localZone: 'a',
      localRegion: 'eu',
      minHealthyPercent: 0,
    });
    healthy(all.filter((ep) => ep.zone !== 'a'));
    expect(b.plan.mode).toBe('region');
    expect(zoneShares(100)).toEqual(new Map([['b', 100]]));
    healthy(all.filter((ep) => ep.region !== 'eu'));
    expect(b.plan.mode).toBe('all');
    expect(zoneShares(100)).toEqual(new Map([['x', 100]]));
  });

  it('never spills to another region while the local one has capacity', () => {
    const all = cluster([
      ['a', 'eu', 5],
      ['b', 'eu', 5],
      ['x', 'us', 10],
    ]);
    const { b, healthy, zoneShares } = setup(all, {
      localZone: 'a',
      localRegion: 'eu',
      minHealthyPercent: 0,
    });
    healthy(all.filter((ep) => !['a-0', 'a-1', 'a-2'].includes(ep.id)));
    expect(Object.keys(b.plan.spillPercent)).toEqual(['b']);
    expect(zoneShares(2000).has('x')).toBe(false);
  });

  it('balances over everything without a local zone', () => {
    const all = cluster([
      ['a', 'r', 1],
      ['b', 'r', 1],
    ]);
    const { b, healthy } = setup(all, {});
    healthy(all);
    expect(b.plan.mode).toBe('all');
  });

  it('falls back to other zones when every local endpoint is excluded', () => {
    const all = cluster([
      ['a', 'r', 2],
      ['b', 'r', 2],
    ]);
    const { b, healthy } = setup(all, { localZone: 'a' });
    healthy(all);
    const exclude = new Set(['a-0', 'a-1']);
    const ids = all.map((e) => e.id);
    const counts = countPicks(b.picker, ids, 100, { exclude });
    expect(counts[0]! + counts[1]!).toBe(0);
    expect(counts[2]! + counts[3]!).toBe(100);
  });
});

describe('LocalityAware: zone names are data', () => {
  it('reports spill-over to a zone named `__proto__` like any other', () => {
    const all = cluster([
      ['a', 'r', 2],
      ['__proto__', 'r', 5],
      ['constructor', 'r', 5],
    ]);
    const { b, healthy } = setup(all, { localZone: 'a', localRegion: 'r' });
    // Zone a loses its endpoints' share: half of it spills over.
    healthy(all.filter((e) => e.id !== 'a-1'));
    expect(b.plan.mode).toBe('spill');
    expect(Object.keys(b.plan.spillPercent).sort()).toEqual(['__proto__', 'constructor']);
    const spilled = Object.values(b.plan.spillPercent).reduce((x, y) => x + y, 0);
    expect(b.plan.localPercent + spilled).toBeCloseTo(100);
  });
});
