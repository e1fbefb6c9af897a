import { endpoint, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { RoundRobinBalancer } from './round-robin.ts';
import { SlowStart } from './slow-start.ts';
import { countPicks } from './test-support.ts';

const eps = ['a', 'b', 'c'].map((id) => endpoint(id, { weight: id === 'a' ? 10 : 1 }));

describe('RoundRobinBalancer', () => {
  it('cycles through every endpoint in order, ignoring weights', () => {
    const b = new RoundRobinBalancer({ random: seededRandom(1) });
    b.update(eps);
    const seq = Array.from({ length: 6 }, () => b.picker.pick()!.id);
    expect(seq.slice(3)).toEqual(seq.slice(0, 3));
    expect(new Set(seq.slice(0, 3))).toEqual(new Set(['a', 'b', 'c']));
    expect(countPicks(b.picker, ['a', 'b', 'c'], 3000)).toEqual([1000, 1000, 1000]);
  });

  it('skips excluded endpoints while others remain, and ignores the exclusion when none do', () => {
    const b = new RoundRobinBalancer({ random: seededRandom(1) });
    b.update(eps);
    const exclude = new Set(['a', 'b']);
    for (let i = 0; i < 5; i++) expect(b.picker.pick({ exclude })!.id).toBe('c');
    expect(b.picker.pick({ exclude: new Set(['a', 'b', 'c']) })).toBeDefined();
  });

  it('returns undefined with no endpoints', () => {
    const b = new RoundRobinBalancer();
    b.update([]);
    expect(b.picker.pick()).toBeUndefined();
  });

  it('honours a slow-start ramp, then goes back to plain rotation', () => {
    const clock = new ManualClock();
    const inner = new RoundRobinBalancer({ now: clock.now, random: seededRandom(2) });
    const b = new SlowStart(inner, { slowStartMs: 10_000, now: clock.now });
    b.update([eps[0]!, eps[1]!]);
    b.update(eps); // c joins later: ramps from 10%
    const ramping = countPicks(b.picker, ['a', 'b', 'c'], 2100);
    expect(ramping).toEqual([1000, 1000, 100]);
    clock.advance(10_000);
    expect(countPicks(b.picker, ['a', 'b', 'c'], 3000)).toEqual([1000, 1000, 1000]);
  });
});
