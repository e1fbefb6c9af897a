import { describe, expect, it } from 'vitest';
import {
  emptyHistogram,
  histogramDelta,
  histogramQuantile,
  histogramTotal,
  mergeHistograms,
} from './latency-histogram.ts';

const bounds = [1, 2.5, 5, 10, 25, 50, 100];

/** A histogram of `values` (ms) in `b`, as an instance records it. */
function of(values: readonly number[], b: readonly number[] = bounds) {
  const counts = new Array<number>(b.length + 1).fill(0);
  for (const v of values) {
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    counts[i]!++;
  }
  return { bounds: b, counts };
}

describe('latency histograms', () => {
  it('merges instances bucket by bucket: the merged quantiles are those of all observations together', () => {
    const a = of(Array.from({ length: 90 }, () => 3));
    const b = of(Array.from({ length: 10 }, () => 40));
    const m = mergeHistograms(a, b);
    expect(histogramTotal(m)).toBe(100);
    // 90 in (2.5, 5], 10 in (25, 50]: p50 inside the first, p95 and p99 inside the second.
    expect(histogramQuantile(m, 0.5)).toBeGreaterThan(2.5);
    expect(histogramQuantile(m, 0.5)).toBeLessThanOrEqual(5);
    expect(histogramQuantile(m, 0.95)).toBeGreaterThan(25);
    expect(histogramQuantile(m, 0.99)).toBeLessThanOrEqual(50);
    expect(mergeHistograms(b, a).counts).toEqual(m.counts); // order does not matter
  });

  it('interpolates inside a bucket as histogram_quantile does, and answers NaN when empty', () => {
    const h = { bounds: [10, 20], counts: [0, 10, 0] };
    expect(histogramQuantile(h, 0.5)).toBe(15);
    expect(histogramQuantile(h, 1)).toBe(20);
    expect(histogramQuantile({ bounds: [10], counts: [1, 1] }, 0.99)).toBe(10); // +Inf: highest bound
    expect(histogramQuantile(emptyHistogram(bounds), 0.5)).toBeNaN();
    expect(histogramQuantile(h, 1.5)).toBeNaN();
  });

  it('re-bins other bounds conservatively: never faster than measured', () => {
    const coarse = [5, 50];
    const fine = of([1, 1, 3, 30, 200]);
    const m = mergeHistograms(emptyHistogram(coarse), fine);
    expect(m.bounds).toEqual(coarse);
    expect(m.counts).toEqual([3, 1, 1]);
  });

  it('takes the delta of two readings, and all of the newer one after a reset', () => {
    const before = of([1, 3]);
    const now = of([1, 3, 3, 70]);
    expect(histogramDelta(now, before).counts).toEqual(of([3, 70]).counts);
    expect(histogramDelta(of([3]), before).counts).toEqual(of([3]).counts); // a count went down
    expect(histogramDelta(now, undefined)).toBe(now);
  });
});
