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
});
