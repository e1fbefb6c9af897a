import type { Endpoint, Picker } from '@meshless/core';
import { ConfigError } from '@meshless/core';
import { endpoint, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { isPrime, MaglevBalancer, MaglevPicker } from './maglev.ts';
import { countPicks, fitsShares } from './test-support.ts';

const keys = Array.from({ length: 20_000 }, (_, i) => `session-${i}`);
const make = (n: number, weight = (_i: number) => 1) =>
  Array.from({ length: n }, (_, i) => endpoint(`ep-${i}`, { weight: weight(i) }));
const mapping = (p: Picker) => keys.map((hashKey) => p.pick({ hashKey })!.id);
const picker = (eps: readonly Endpoint[], size = 65_537) => new MaglevPicker(eps, size, seededRandom(1));

describe('MaglevPicker', () => {
  it('spreads keys evenly (the table is balanced to within one slot)', () => {
    const eps = make(10);
    const p = picker(eps);
    const counts = eps.map((ep) => mapping(p).filter((id) => id === ep.id).length);
    // With an exactly balanced table, keys are multinomial: chi-square applies.
    expect(fitsShares(counts, new Array(10).fill(1))).toBe(true);
  });

  it('weights slots by endpoint weight', () => {
    const p = picker(make(3, (i) => i + 1));
    const ids = ['ep-0', 'ep-1', 'ep-2'];
    const counts = ids.map((id) => mapping(p).filter((x) => x === id).length);
    expect(fitsShares(counts, [1, 2, 3])).toBe(true);
  });

  it('moves about 1/N of keys when one of N endpoints leaves or joins; few others move', () => {
    const eps = make(10);
    const before = mapping(picker(eps));
    const after = mapping(picker(eps.filter((ep) => ep.id !== 'ep-7')));
    let moved = 0;
    let collateral = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      if (before[i] !== 'ep-7') collateral++;
    }
    expect(moved / keys.length).toBeGreaterThan(0.08);
    expect(moved / keys.length).toBeLessThan(0.14);
    expect(collateral / keys.length).toBeLessThan(0.03);

    const joined = mapping(picker([...eps, endpoint('ep-10')]));
    const changed = joined.filter((id, i) => id !== before[i]).length / keys.length;
    expect(changed).toBeGreaterThan(1 / 11 - 0.02);
    expect(changed).toBeLessThan(1 / 11 + 0.04);
  });

  it('is independent of list order and stable for a key', () => {
    const eps = make(6);
    expect(mapping(picker([...eps].reverse()))).toEqual(mapping(picker(eps)));
  });

  it('honours exclude by probing the next slots', () => {
    const eps = make(4);
    const p = picker(eps, 251);
    const owner = p.pick({ hashKey: 'x' })!.id;
    const other = p.pick({ hashKey: 'x', exclude: new Set([owner]) })!.id;
    expect(other).not.toBe(owner);
    expect(p.pick({ hashKey: 'x', exclude: new Set(eps.map((e) => e.id)) })!.id).toBe(owner);
  });

  it('picks at random without a hash key', () => {
    const eps = make(4);
    const counts = countPicks(
      picker(eps),
      eps.map((e) => e.id),
      20_000,
    );
    expect(fitsShares(counts, [1, 1, 1, 1])).toBe(true);
  });
});

describe('MaglevBalancer', () => {
  it('refuses a table size that is not prime', () => {
    expect(isPrime(65_537)).toBe(true);
    expect(isPrime(65_536)).toBe(false);
    expect(() => new MaglevBalancer({ tableSize: 65_536 })).toThrow(ConfigError);
  });

  it('carries endpoints through update()', () => {
    const b = new MaglevBalancer({ tableSize: 1009, random: seededRandom(2) });
    b.update(make(3));
    expect(b.picker.pick({ hashKey: 'k' })).toBeDefined();
    b.update([]);
    expect(b.picker.pick({ hashKey: 'k' })).toBeUndefined();
  });
});
