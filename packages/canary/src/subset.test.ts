import { endpoint } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { hasEndpointsIn, partitionBySubset, subsetFilter } from './subset.ts';

const v1 = endpoint('a', { meta: { version: 'v1', zone: 'z1' }, tags: ['blue'] });
const v2 = endpoint('b', { meta: { version: 'v2', zone: 'z1' }, tags: ['green', 'blue'] });
const bare = endpoint('c');

describe('subsets', () => {
  it('select endpoints having every tag and every meta pair', () => {
    const canary = subsetFilter({ meta: { version: 'v2' }, tags: ['green'] });
    expect([v1, v2, bare].filter(canary)).toEqual([v2]);
    expect([v1, v2, bare].filter(subsetFilter({ tags: ['blue'] }))).toEqual([v1, v2]);
    expect([v1, v2, bare].filter(subsetFilter({ meta: { zone: 'z1', version: 'v1' } }))).toEqual([v1]);
    expect([v1, v2, bare].filter(subsetFilter({}))).toEqual([v1, v2, bare]);
  });

  it('partition endpoints by subset, keeping empty subsets and overlaps', () => {
    const parts = partitionBySubset([v1, v2, bare], {
      stable: { meta: { version: 'v1' } },
      canary: { meta: { version: 'v2' } },
      blue: { tags: ['blue'] },
      v3: { meta: { version: 'v3' } },
    });
    expect(parts.get('stable')).toEqual([v1]);
    expect(parts.get('canary')).toEqual([v2]);
    expect(parts.get('blue')).toEqual([v1, v2]);
    expect(parts.get('v3')).toEqual([]);

    const has = hasEndpointsIn([v1, v2, bare], parts);
    expect([has('stable'), has('v3'), has('unknown'), has(undefined)]).toEqual([true, false, false, true]);
    expect(hasEndpointsIn([], new Map())(undefined)).toBe(false);
  });
});
