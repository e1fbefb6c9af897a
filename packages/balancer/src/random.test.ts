import { endpoint, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { RandomBalancer } from './random.ts';
import { countPicks, fitsShares } from './test-support.ts';

describe('RandomBalancer', () => {
  const ids = ['a', 'b', 'c', 'd', 'e'];

  it('picks uniformly when weights are equal (chi-square, p = 0.001)', () => {
    const b = new RandomBalancer({ random: seededRandom(11) });
    b.update(ids.map((id) => endpoint(id)));
    const counts = countPicks(b.picker, ids, 50_000);
    expect(fitsShares(counts, [1, 1, 1, 1, 1])).toBe(true);
  });

  it('picks in proportion to weight when weights differ', () => {
    const b = new RandomBalancer({ random: seededRandom(12) });
    const weights = [1, 2, 3, 4, 10];
    b.update(ids.map((id, i) => endpoint(id, { weight: weights[i]! })));
    const counts = countPicks(b.picker, ids, 50_000);
    expect(fitsShares(counts, weights)).toBe(true);
    // The test is sharp enough to reject a uniform picker.
    expect(fitsShares(counts, [1, 1, 1, 1, 1])).toBe(false);
  });

  it('never picks an excluded endpoint while others remain, keeping weights among the rest', () => {
    const b = new RandomBalancer({ random: seededRandom(13) });
    const weights = [1, 2, 3, 4, 10];
    b.update(ids.map((id, i) => endpoint(id, { weight: weights[i]! })));
    const exclude = new Set(['e', 'a']);
    const counts = countPicks(b.picker, ids, 20_000, { exclude });
    expect(counts[0]).toBe(0);
    expect(counts[4]).toBe(0);
    expect(fitsShares(counts.slice(1, 4), [2, 3, 4])).toBe(true);
    expect(b.picker.pick({ exclude: new Set(ids) })).toBeDefined();
  });
});
