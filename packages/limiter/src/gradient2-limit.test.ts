import { describe, expect, it } from 'vitest';
import { Gradient2Limit, type Gradient2Settings } from './gradient2-limit.ts';

const settings: Gradient2Settings = {
  initialLimit: 20,
  minLimit: 5,
  maxLimit: 100,
  smoothing: 0.2,
  rttTolerance: 1.5,
  longWindow: 600,
  queueSize: () => 4,
};

describe('Gradient2Limit', () => {
  it('grows by smoothing x queueSize per update while latency holds and the limit is used', () => {
    const g = new Gradient2Limit(settings);
    expect(g.update(10, 20)).toBeCloseTo(20.8, 10); // 20 * 0.8 + (20 + 4) * 0.2
    expect(g.update(10, 21)).toBeCloseTo(21.6, 10);
  });

  it('does not grow while less than half the limit is in use', () => {
    const g = new Gradient2Limit(settings);
    expect(g.update(10, 9)).toBe(20);
  });

  it('falls by at most half the smoothing share when latency jumps', () => {
    const g = new Gradient2Limit(settings);
    for (let i = 0; i < 20; i++) g.update(10, 20);
    const before = g.limit;
    // gradient = max(0.5, 1.5 * ~10.x / 100) = 0.5
    const after = g.update(100, before);
    expect(after).toBeCloseTo(before * 0.8 + (before * 0.5 + 4) * 0.2, 1);
    expect(after).toBeLessThan(before);
  });

  it('tolerates latency up to rttTolerance times the long-term average', () => {
    const g = new Gradient2Limit(settings);
    for (let i = 0; i < 20; i++) g.update(10, 100);
    const before = g.limit;
    expect(g.update(14, 100)).toBeGreaterThan(before);
  });

  it('falls under outside pressure even when latency is fine and the limit is not used', () => {
    const g = new Gradient2Limit(settings);
    expect(g.update(10, 1, 0.5)).toBeCloseTo(20 * 0.8 + 20 * 0.5 * 0.2, 10);
  });

  it('stays within minLimit and maxLimit', () => {
    const g = new Gradient2Limit(settings);
    for (let i = 0; i < 500; i++) g.update(10, 1000);
    expect(g.limit).toBe(100);
    for (let i = 0; i < 500; i++) g.update(1000, 1000, 0.5);
    expect(g.limit).toBe(5);
  });

  it('configure keeps the limit, clamped to the new bounds', () => {
    const g = new Gradient2Limit(settings);
    g.configure({ ...settings, maxLimit: 10 });
    expect(g.limit).toBe(10);
  });
});
