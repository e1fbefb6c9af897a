import { endpoint, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { EndpointStatsStore } from './endpoint-stats.ts';
import { OutlierEjection } from './outlier-ejection.ts';
import { PanicThreshold } from './panic-threshold.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import { countPicks } from './test-support.ts';

function setup(thresholdPercent: number) {
  const clock = new ManualClock();
  const stats = new EndpointStatsStore({ now: clock.now });
  const panic = new PanicThreshold(new RoundRobinBalancer({ stats, random: seededRandom(1) }), {
    thresholdPercent,
  });
  const b = new OutlierEjection(panic, { consecutiveErrors: 1, maxEjectionPercent: 100 });
  const eps = ['a', 'b', 'c', 'd'].map((id) => endpoint(id));
  b.update(eps);
  const eject = (i: number) => {
    b.onCallStart(eps[i]!);
    b.onCallEnd(eps[i]!, { latencyMs: 1, ok: false });
  };
  const counts = () => countPicks(b.picker, ['a', 'b', 'c', 'd'], 400);
  return { b, panic, eject, counts };
}

describe('PanicThreshold', () => {
  it('balances over healthy endpoints only while enough are healthy', () => {
    const { panic, eject, counts } = setup(50);
    eject(0);
    eject(1);
    expect(panic.inPanic).toBe(false); // 2 of 4 healthy = 50%: not below the threshold
    expect(counts()).toEqual([0, 0, 200, 200]);
  });

  it('balances over all endpoints, ejected ones included, below the threshold', () => {
    const { panic, eject, counts } = setup(50);
    eject(0);
    eject(1);
    eject(2);
    expect(panic.inPanic).toBe(true);
    expect(counts()).toEqual([100, 100, 100, 100]);
  });

  it('with threshold 0 never panics: all ejected means no endpoint', () => {
    const { b, panic, eject } = setup(0);
    for (let i = 0; i < 4; i++) eject(i);
    expect(panic.inPanic).toBe(false);
    expect(b.picker.pick()).toBeUndefined();
  });
});
