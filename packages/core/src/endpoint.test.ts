import { describe, expect, it } from 'vitest';
import { endpointDelta } from './endpoint.ts';
import { endpoint } from './testing/fake-resolver.ts';

describe('endpointDelta', () => {
  it('names new and replaced objects and removed ids, comparing by identity by default', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((id) => endpoint(id));
    const b2 = endpoint('b');
    const d = endpoint('d');
    expect(endpointDelta([a!, b!, c!], [a!, b2, d])).toEqual({ upserts: [b2, d], removed: ['c'] });
    expect(endpointDelta([a!, b!], [a!, b!])).toEqual({ upserts: [], removed: [] });
    // A value comparison treats an equal copy as unchanged.
    expect(endpointDelta([b!], [b2], (x, y) => x.port === y.port)).toEqual({ upserts: [], removed: [] });
    expect(endpointDelta([], [a!])).toEqual({ upserts: [a], removed: [] });
    expect(endpointDelta([a!], [])).toEqual({ upserts: [], removed: ['a'] });
  });

  it('is undefined for a list that is not strictly sorted by id (the consumer then rebuilds)', () => {
    const [a, b] = ['a', 'b'].map((id) => endpoint(id));
    expect(endpointDelta([b!, a!], [a!, b!])).toBeUndefined();
    expect(endpointDelta([a!, b!], [b!, a!])).toBeUndefined();
    expect(endpointDelta([a!], [a!, endpoint('a')])).toBeUndefined();
  });

  it('with prevSorted, passes over shared runs by reference and still finds every change and any disorder in next', () => {
    let seed = 3;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let prev = Array.from({ length: 50 }, (_, i) => endpoint(`id-${String(i).padStart(3, '0')}`));
    for (let round = 0; round < 200; round++) {
      const next = prev
        .filter(() => random() > 0.05)
        .map((e) => (random() < 0.05 ? endpoint(e.id, { port: 1 + Math.floor(random() * 9) }) : e));
      if (random() < 0.5) next.push(endpoint(`id-${String(100 + round).padStart(3, '0')}`));
      next.sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(endpointDelta(prev, next, undefined, true)).toEqual(endpointDelta(prev, next));
      prev = next;
    }
    const [a, b, c] = ['a', 'b', 'c'].map((id) => endpoint(id));
    expect(endpointDelta([a!, b!, c!], [a!, c!, b!], undefined, true)).toBeUndefined();
    expect(endpointDelta([a!, b!], [a!, b!, b!], undefined, true)).toBeUndefined();
  });
});
