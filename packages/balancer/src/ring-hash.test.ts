import type { Endpoint, Picker } from '@meshless/core';
import { endpoint, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { RingHashBalancer, RingHashPicker } from './ring-hash.ts';
import { countPicks } from './test-support.ts';

const keys = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);
const make = (n: number, weight = (_i: number) => 1) =>
  Array.from({ length: n }, (_, i) => endpoint(`ep-${i}`, { weight: weight(i) }));
const mapping = (p: Picker) => keys.map((hashKey) => p.pick({ hashKey })!.id);
const picker = (eps: readonly Endpoint[]) => new RingHashPicker(eps, {}, seededRandom(1));

describe('RingHashPicker', () => {
  it('gives each endpoint about its share of keys, by weight', () => {
    const eps = make(10);
    const ring = picker(eps);
    expect(ring.size).toBe(5120); // 512 entries per unit of weight, whatever the endpoint count
    const counts = eps.map((ep) => mapping(ring).filter((id) => id === ep.id).length);
    // Ring placement, not sampling, dominates the spread: a tolerance band, not chi-square.
    for (const c of counts) expect(Math.abs(c / keys.length - 0.1)).toBeLessThan(0.03);
    const weighted = picker(make(2, (i) => (i === 0 ? 3 : 1)));
    const heavy = mapping(weighted).filter((id) => id === 'ep-0').length / keys.length;
    expect(heavy).toBeGreaterThan(0.7);
    expect(heavy).toBeLessThan(0.8);
  });

  it('maps a key to the same endpoint whatever the order the endpoints are listed in', () => {
    const eps = make(10);
    expect(mapping(picker([...eps].reverse()))).toEqual(mapping(picker(eps)));
  });

  it('moves about 1/N of the keys when one of N endpoints leaves or joins, and only those', () => {
    const eps = make(10);
    const before = mapping(picker(eps));
    const after = mapping(picker(eps.filter((ep) => ep.id !== 'ep-3')));
    let moved = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      expect(before[i]).toBe('ep-3'); // only the leaver's keys move
    }
    expect(moved / keys.length).toBeGreaterThan(0.07);
    expect(moved / keys.length).toBeLessThan(0.13);

    const joined = mapping(picker([...eps, endpoint('ep-10')]));
    let taken = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] === joined[i]) continue;
      taken++;
      expect(joined[i]).toBe('ep-10'); // keys only move to the newcomer
    }
    expect(taken / keys.length).toBeGreaterThan(1 / 11 - 0.03);
    expect(taken / keys.length).toBeLessThan(1 / 11 + 0.03);
  });

  // Few endpoints is where a ring sized by the endpoint count went wrong: every share changed.
  const tenThousand = keys.slice(0, 10_000);
  const owners = (eps: readonly Endpoint[]) => {
    const ring = picker(eps);
    return tenThousand.map((hashKey) => ring.pick({ hashKey })!.id);
  };

  it.each([4, 5, 6])('with %i endpoints, removing one moves exactly its keys and no other', (n) => {
    const eps = make(n);
    const before = owners(eps);
    for (const gone of eps) {
      const after = owners(eps.filter((ep) => ep !== gone));
      let owned = 0;
      let moved = 0;
      let between = 0;
      for (let i = 0; i < before.length; i++) {
        if (before[i] === gone.id) owned++;
        if (before[i] === after[i]) continue;
        moved++;
        if (before[i] !== gone.id) between++;
      }
      expect(between).toBe(0); // no key moved between endpoints that stayed
      expect(moved).toBe(owned);
    }
  });

  it.each([4, 5, 6])('with %i endpoints, a new endpoint only takes keys to itself', (n) => {
    const eps = make(n);
    const before = owners(eps);
    const after = owners([...eps, endpoint('ep-new')]);
    let taken = 0;
    for (let i = 0; i < before.length; i++) {
      if (before[i] === after[i]) continue;
      taken++;
      expect(after[i]).toBe('ep-new');
    }
    expect(taken).toBeGreaterThan(0);
  });

  it.each([
    ['raised', [1, 1, 1, 1, 1], 2, 3],
    ['lowered', [2, 2, 2, 2, 2], 1, 1],
    ['raised from the lightest', [2, 2, 1, 2, 2], 2, 2],
  ] as const)('a weight %s on one endpoint moves keys only to or from it', (_, weights, changed, to) => {
    const eps = make(weights.length, (i) => weights[i]!);
    const before = owners(eps);
    const id = `ep-${changed}`;
    const after = owners(eps.map((ep) => (ep.id === id ? endpoint(id, { weight: to }) : ep)));
    let moved = 0;
    for (let i = 0; i < before.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      if (to > weights[changed]!) expect(after[i]).toBe(id);
      else expect(before[i]).toBe(id);
    }
    expect(moved).toBeGreaterThan(0);
  });

  it('keeps every share within 15 % of its ideal with 2 to 10 endpoints', () => {
    for (let n = 2; n <= 10; n++) {
      const ring = picker(make(n));
      const counts = new Map<string, number>();
      for (const hashKey of keys) {
        const id = ring.pick({ hashKey })!.id;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      const shares = [...counts.values()].map((c) => (c / keys.length) * n);
      expect(counts.size).toBe(n);
      expect(Math.max(...shares)).toBeLessThan(1.15);
      expect(Math.min(...shares)).toBeGreaterThan(0.85);
    }
  });

  it('walks on to the next endpoint when the key owner is excluded', () => {
    const ring = picker(make(5));
    const owner = ring.pick({ hashKey: 'k' })!.id;
    const second = ring.pick({ hashKey: 'k', exclude: new Set([owner]) })!.id;
    expect(second).not.toBe(owner);
    expect(ring.pick({ hashKey: 'k', exclude: new Set([owner]) })!.id).toBe(second);
    expect(ring.pick({ hashKey: 'k', exclude: new Set(make(5).map((e) => e.id)) })!.id).toBe(owner);
  });

  it('picks at random (by ring share) without a hash key', () => {
    const eps = make(4);
    const counts = countPicks(
      picker(eps),
      eps.map((e) => e.id),
      20_000,
    );
    for (const c of counts) expect(c).toBeGreaterThan(4000);
  });

  it('respects the ring size bounds', () => {
    const small = new RingHashPicker(make(2), { minRingSize: 4096 }, seededRandom(1));
    expect(small.size).toBe(4096);
    const capped = new RingHashPicker(make(100), { maxRingSize: 1000 }, seededRandom(1));
    expect(capped.size).toBe(1000);
  });
});

describe('RingHashBalancer', () => {
  it('keeps the mapping stable across update() with the same membership', () => {
    const b = new RingHashBalancer({ random: seededRandom(5) });
    const eps = make(8);
    b.update(eps);
    const first = mapping(b.picker);
    b.update([...eps]);
    expect(mapping(b.picker)).toEqual(first);
  });
});
