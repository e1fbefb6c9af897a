import { type Endpoint, endpointDelta } from '@meshless/core';
import { endpoint, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { hasEndpointsIn, partitionBySubset, patchSubset, subsetFilter } from './subset.ts';

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

  it('patch a subset from a membership change as the full filter would, keeping an untouched list', () => {
    const green = subsetFilter({ tags: ['green'] });
    const random = seededRandom(11);
    let all: readonly Endpoint[] = [];
    let subset: readonly Endpoint[] = [];
    for (let round = 0; round < 300; round++) {
      const next: Endpoint[] = [];
      for (let i = 0; i < 30; i++) {
        const id = `e${String(i).padStart(2, '0')}`;
        const old = all.find((e) => e.id === id);
        const roll = random();
        if (roll < 0.1) continue; // gone (or never there)
        if (old !== undefined && roll < 0.8)
          next.push(old); // unchanged: the same object
        else next.push(endpoint(id, { tags: random() < 0.5 ? ['green'] : ['blue'] }));
      }
      const delta = endpointDelta(all, next)!;
      const patched = patchSubset(subset, delta, green);
      expect(patched).toEqual(next.filter(green));
      if (delta.upserts.length === 0 && delta.removed.length === 0) expect(patched).toBe(subset);
      all = next;
      subset = patched;
    }
    // A change outside the subset leaves its list as it was.
    const blue = endpoint('zz', { tags: ['blue'] });
    expect(patchSubset(subset, { upserts: [blue], removed: [] }, green)).toBe(subset);
  });
});
