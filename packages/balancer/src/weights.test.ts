import { seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { fitsShares } from './test-support.ts';
import { WeightTable } from './weights.ts';

function draws(table: WeightTable, n: number, seed: number): number[] {
  const random = seededRandom(seed);
  const counts = Array.from(table.weights, () => 0);
  for (let i = 0; i < n; i++) counts[table.sample(random())]!++;
  return counts;
}

describe('WeightTable', () => {
  it('draws in proportion to weight', () => {
    const weights = [1, 2, 3, 0.5, 7, 1.25, 4];
    const counts = draws(new WeightTable(Float64Array.from(weights)), 70_000, 1);
    expect(fitsShares(counts, weights)).toBe(true);
  });

  it('never draws a zero weight', () => {
    const weights = Array.from({ length: 1000 }, (_, i) => (i % 7 === 0 ? 0 : 1 + ((i * 0.1) % 3)));
    const table = new WeightTable(Float64Array.from(weights));
    const counts = draws(table, 200_000, 2);
    expect(counts.filter((_, i) => weights[i] === 0).every((c) => c === 0)).toBe(true);
    const random = seededRandom(3);
    // The edges of [0, 1) too.
    for (const r of [0, 1 - Number.EPSILON, random()]) expect(weights[table.sample(r)]).toBeGreaterThan(0);
  });

  it('is uniform for equal weights and sampleOther differs from the first draw', () => {
    const table = new WeightTable(Float64Array.from([2, 2, 2, 2]));
    expect(table.uniform).toBe(true);
    expect(fitsShares(draws(table, 40_000, 4), [1, 1, 1, 1])).toBe(true);
    const uneven = new WeightTable(Float64Array.from([1, 5, 1]));
    const random = seededRandom(5);
    for (let i = 0; i < 1000; i++) {
      const a = uneven.sample(random());
      expect(uneven.sampleOther(a, random)).not.toBe(a);
    }
  });
});
