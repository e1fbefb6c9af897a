import { seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { LatencyTracker } from './latency-tracker.ts';

function exactQuantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.ceil(q * s.length) - 1]!;
}

describe('LatencyTracker', () => {
  it('answers nothing before minSamples', () => {
    const t = new LatencyTracker({ minSamples: 5 });
    for (let i = 0; i < 4; i++) t.record(10);
    expect(t.value()).toBeUndefined();
    t.record(10);
    expect(t.value()).toBeGreaterThanOrEqual(10);
  });

  it('tracks p95 within one bucket (at most ~9% above the true value)', () => {
    const random = seededRandom(42);
    const t = new LatencyTracker({ recomputeEvery: 1 });
    const samples: number[] = [];
    for (let i = 0; i < 256; i++) {
      const ms = -Math.log(1 - random()) * 40; // exponential, mean 40 ms
      samples.push(ms);
      t.record(ms);
    }
    const exact = exactQuantile(samples, 0.95);
    expect(t.value()).toBeGreaterThanOrEqual(exact);
    expect(t.value()).toBeLessThanOrEqual(exact * 2 ** (1 / 8));
  });

  it('forgets samples older than the last `size`', () => {
    const t = new LatencyTracker({ size: 100, recomputeEvery: 1 });
    for (let i = 0; i < 100; i++) t.record(500);
    for (let i = 0; i < 100; i++) t.record(5);
    expect(t.size).toBe(100);
    expect(t.value()).toBeLessThanOrEqual(5 * 1.1);
  });

  it('recomputes only every recomputeEvery samples', () => {
    const t = new LatencyTracker({ minSamples: 1, recomputeEvery: 10 });
    t.record(1);
    const first = t.value();
    for (let i = 0; i < 9; i++) t.record(1000);
    expect(t.value()).toBe(first);
    t.record(1000);
    expect(t.value()).toBeGreaterThan(900);
  });

  it('clamps zero, tiny and huge latencies into its range', () => {
    const t = new LatencyTracker({ minSamples: 1, recomputeEvery: 1 });
    t.record(0);
    expect(t.value()).toBeLessThan(0.1);
    for (let i = 0; i < 300; i++) t.record(1e12);
    expect(Number.isFinite(t.value())).toBe(true);
  });
});
