import { endpoint, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { SmoothWeightedPicker } from './smooth-weighted-picker.ts';
import { countPicks } from './test-support.ts';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.ts';

describe('WeightedRoundRobinBalancer (smooth, nginx)', () => {
  it('gives nginx exact sequence a,a,b,a,c,a,a for weights 5,1,1', () => {
    const b = new WeightedRoundRobinBalancer();
    b.update([endpoint('a', { weight: 5 }), endpoint('b', { weight: 1 }), endpoint('c', { weight: 1 })]);
    const seq = Array.from({ length: 14 }, () => b.picker.pick()!.id).join(',');
    expect(seq).toBe('a,a,b,a,c,a,a,a,a,b,a,c,a,a');
  });

  it('serves each endpoint exactly in proportion to weight over a full cycle', () => {
    const b = new WeightedRoundRobinBalancer();
    const ids = ['a', 'b', 'c', 'd'];
    b.update(ids.map((id, i) => endpoint(id, { weight: i + 1 })));
    expect(countPicks(b.picker, ids, 1000)).toEqual([100, 200, 300, 400]);
  });

  it('gives the same sequence from the precomputed cycle and from the live loop (fractional weights)', () => {
    const integral = new SmoothWeightedPicker(
      ['a', 'b', 'c'].map((id) => endpoint(id)),
      Float64Array.from([5, 1, 1]),
    );
    const fractional = new SmoothWeightedPicker(
      ['a', 'b', 'c'].map((id) => endpoint(id)),
      Float64Array.from([0.5, 0.1, 0.1]),
    );
    const seq = (p: SmoothWeightedPicker) => Array.from({ length: 21 }, () => p.pick()!.id).join('');
    expect(seq(integral)).toBe('aabacaa'.repeat(3));
    expect(seq(fractional)).toBe(seq(integral));
  });

  it('is plain round-robin when weights are equal', () => {
    const b = new WeightedRoundRobinBalancer({ random: seededRandom(3) });
    b.update([endpoint('a'), endpoint('b')]);
    const seq = Array.from({ length: 4 }, () => b.picker.pick()!.id);
    expect(seq[0]).not.toBe(seq[1]);
    expect(seq[2]).toBe(seq[0]);
  });

  it('skips excluded endpoints and keeps the weights among the rest', () => {
    const b = new WeightedRoundRobinBalancer();
    const ids = ['a', 'b', 'c'];
    b.update([endpoint('a', { weight: 5 }), endpoint('b', { weight: 2 }), endpoint('c', { weight: 1 })]);
    const exclude = new Set(['a']);
    const counts = countPicks(b.picker, ids, 300, { exclude });
    expect(counts).toEqual([0, 200, 100]);
    expect(b.picker.pick({ exclude: new Set(ids) })).toBeDefined();
  });
});
