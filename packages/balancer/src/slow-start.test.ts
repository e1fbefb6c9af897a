import { endpoint, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { EndpointStatsStore } from './endpoint-stats.ts';
import { SlowStart } from './slow-start.ts';
import { countPicks } from './test-support.ts';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.ts';

function setup(options: { aggression?: number; minWeightPercent?: number } = {}) {
  const clock = new ManualClock();
  const stats = new EndpointStatsStore({ now: clock.now });
  const b = new SlowStart(new WeightedRoundRobinBalancer({ stats, random: seededRandom(1) }), {
    slowStartMs: 10_000,
    ...options,
  });
  const old = endpoint('old');
  b.update([old]);
  clock.advance(5000);
  b.update([old, endpoint('new')]);
  /** Share of picks going to `new`, over 1000 picks (WRR is exact, no sampling noise). */
  const share = () => countPicks(b.picker, ['old', 'new'], 1000)[1]! / 1000;
  return { clock, b, share };
}

describe('SlowStart', () => {
  it('does not ramp endpoints present from the first membership', () => {
    const { b } = setup();
    expect(b.factorOf('old')).toBe(1);
  });

  it('ramps a new endpoint linearly from 10% to full weight over slowStartMs', () => {
    const { clock, b, share } = setup();
    expect(b.factorOf('new')).toBeCloseTo(0.1);
    expect(share()).toBeCloseTo(0.1 / 1.1, 2);
    clock.advance(5000);
    b.picker.pick(); // the ramp advances lazily on pick
    expect(b.factorOf('new')).toBeCloseTo(0.5);
    expect(share()).toBeCloseTo(0.5 / 1.5, 2);
    clock.advance(5000);
    b.picker.pick();
    expect(b.factorOf('new')).toBe(1);
    expect(share()).toBe(0.5);
  });

  it('applies the aggression exponent', () => {
    const { clock, b } = setup({ aggression: 2 });
    clock.advance(2500);
    b.picker.pick();
    expect(b.factorOf('new')).toBeCloseTo(Math.sqrt(0.25));
  });

  it('recomputes at most once per step, not on every pick', () => {
    const { clock, b } = setup();
    clock.advance(400); // below the 500 ms step
    b.picker.pick();
    expect(b.factorOf('new')).toBeCloseTo(0.1);
    clock.advance(100);
    b.picker.pick();
    expect(b.factorOf('new')).toBeCloseTo(0.1); // still below the 10% floor
    clock.advance(1500);
    b.picker.pick();
    expect(b.factorOf('new')).toBeCloseTo(0.2);
  });

  it('resets the weights on dispose', () => {
    const { b } = setup();
    b.dispose();
    expect(b.factorOf('new')).toBe(1);
  });
});
