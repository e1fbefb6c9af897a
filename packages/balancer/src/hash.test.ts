import { describe, expect, it } from 'vitest';
import { fmix32, fnvState, hashString, hashWithIndex } from './hash.ts';
import { fitsShares } from './test-support.ts';

describe('hashString', () => {
  it('is FNV-1a finished by murmur3 fmix32 (published test vectors), stable across releases', () => {
    expect(fnvState('a') >>> 0).toBe(0xe40c292c);
    expect(fnvState('foobar') >>> 0).toBe(0xbf9cf968);
    expect(fmix32(1)).toBe(0x514e28b7);
    // Rings must agree between callers and versions: these values must never change.
    expect([hashString('user-1'), hashString('user-2')]).toEqual([2005895916, 853201105]);
  });

  it('spreads similar keys evenly over buckets (chi-square, p = 0.001)', () => {
    const buckets = new Array(64).fill(0);
    for (let i = 0; i < 64_000; i++) buckets[hashString(`user-${i}`) % 64]++;
    expect(fitsShares(buckets, new Array(64).fill(1))).toBe(true);
    const replicas = new Array(64).fill(0);
    const state = fnvState('10.0.0.1:8080');
    for (let r = 0; r < 64_000; r++) replicas[hashWithIndex(state, r) % 64]++;
    expect(fitsShares(replicas, new Array(64).fill(1))).toBe(true);
  });
});
