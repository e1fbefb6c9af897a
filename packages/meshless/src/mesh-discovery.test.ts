import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { cacheAfterMs } from './mesh-discovery.ts';

describe('cacheAfterMs', () => {
  it("gives a new resolver what is left of createMesh's bound while Consul has not answered the rule watch", () => {
    const clock = new ManualClock(1_000);
    const stats = { index: 0, failures: 1 };
    const after = cacheAfterMs({ clock, source: { stats: () => stats }, readyTimeoutMs: 10_000 });
    expect(after()).toBe(10_000);
    clock.advance(4_000);
    expect(after()).toBe(6_000);
    clock.advance(7_000);
    expect(after()).toBe(0);
  });

  it('gives the full time once Consul has answered', () => {
    const clock = new ManualClock(1_000);
    const stats = { index: 0, failures: 0 };
    const after = cacheAfterMs({ clock, source: { stats: () => stats }, readyTimeoutMs: 10_000 });
    clock.advance(12_000);
    expect(after()).toBe(0);
    stats.index = 42;
    expect(after()).toBe(10_000);
  });
});
