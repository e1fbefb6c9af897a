import { endpoint, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { LeastRequestBalancer } from './least-request.ts';
import { countPicks, fitsShares } from './test-support.ts';

describe('LeastRequestBalancer (P2C)', () => {
  const ids = ['a', 'b', 'c', 'd'];

  it('spreads evenly, or by weight, when idle', () => {
    const even = new LeastRequestBalancer({ random: seededRandom(21) });
    even.update(ids.map((id) => endpoint(id)));
    expect(fitsShares(countPicks(even.picker, ids, 40_000), [1, 1, 1, 1])).toBe(true);
    const weighted = new LeastRequestBalancer({ random: seededRandom(22) });
    weighted.update(ids.map((id, i) => endpoint(id, { weight: i + 1 })));
    expect(fitsShares(countPicks(weighted.picker, ids, 40_000), [1, 2, 3, 4])).toBe(true);
  });

  it('prefers the less loaded of the two candidates', () => {
    const b = new LeastRequestBalancer({ random: seededRandom(23) });
    const eps = ids.map((id) => endpoint(id));
    b.update(eps);
    for (let i = 0; i < 5; i++) b.onCallStart(eps[0]!); // a is busy
    for (let i = 0; i < 2; i++) b.onCallStart(eps[1]!); // b somewhat
    const counts = countPicks(b.picker, ids, 12_000);
    // a loses every comparison; b wins only against a (1/6 of pairs, half of which contain b).
    expect(counts[0]).toBe(0);
    expect(counts[1]).toBeGreaterThan(1500);
    expect(counts[1]).toBeLessThan(2500);
    expect(fitsShares(counts.slice(2), [1, 1])).toBe(true);
  });

  it('balances pending in proportion to weight', () => {
    const b = new LeastRequestBalancer({ random: seededRandom(24) });
    const heavy = endpoint('heavy', { weight: 3 });
    const light = endpoint('light', { weight: 1 });
    b.update([heavy, light]);
    for (let i = 0; i < 400; i++) b.onCallStart(b.picker.pick()!); // nothing ever completes
    expect(b.stats.get('heavy')!.pending).toBeGreaterThanOrEqual(298);
    expect(b.stats.get('heavy')!.pending).toBeLessThanOrEqual(302);
  });

  it('honours exclude', () => {
    const b = new LeastRequestBalancer({ random: seededRandom(25) });
    b.update(ids.map((id) => endpoint(id)));
    const counts = countPicks(b.picker, ids, 4000, { exclude: new Set(['a', 'b', 'c']) });
    expect(counts).toEqual([0, 0, 0, 4000]);
  });
});
