import type { Endpoint, PickContext, Picker, Random } from '@meshless/core';
import { ConfigError } from '@meshless/core';
import { fnvState, hashString, hashWithIndex } from './hash.ts';
import { type BalancerDeps, hasExclusions, LeafBalancer } from './stateful-balancer.ts';

export interface RingHashOptions {
  /** Fewest ring entries in total. Default 1024 (Envoy's). */
  minRingSize?: number;
  /** Most ring entries in total. Default 8 388 608 (Envoy's). */
  maxRingSize?: number;
}

export const DEFAULT_MIN_RING_SIZE = 1024;
export const DEFAULT_MAX_RING_SIZE = 8_388_608;
/** Virtual nodes for an endpoint of the smallest weight, before the ring size bounds apply. */
export const VNODES_PER_WEIGHT = 160;
/** Owner indexes are packed below the hash in one float64 for a native typed-array sort. */
const OWNER_BITS = 2 ** 21;

/**
 * A Ketama-style ring: each endpoint owns hashes of `id` + replica number, as many as its
 * share of weight calls for (160 for the lightest endpoint, within the ring size bounds).
 * A key goes to the owner of the first entry at or after its hash, so adding or removing one
 * of N endpoints moves about 1/N of the keys and leaves the others where they were.
 */
export class RingHashPicker implements Picker {
  private readonly endpoints: readonly Endpoint[];
  private readonly hashes: Uint32Array;
  private readonly owners: Uint32Array;
  private readonly random: Random;

  constructor(endpoints: readonly Endpoint[], options: RingHashOptions, random: Random) {
    const minSize = options.minRingSize ?? DEFAULT_MIN_RING_SIZE;
    const maxSize = options.maxRingSize ?? DEFAULT_MAX_RING_SIZE;
    // Sorted by id: the ring depends on membership, not on the order the resolver listed it.
    const eps = [...endpoints].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (eps.length >= OWNER_BITS) throw new ConfigError(`ring hash supports < ${OWNER_BITS} endpoints`);
    this.endpoints = eps;
    this.random = random;
    let total = 0;
    let min = Number.POSITIVE_INFINITY;
    for (const ep of eps) {
      const w = Math.max(ep.weight, 1e-9);
      total += w;
      min = Math.min(min, w);
    }
    const size = Math.min(maxSize, Math.max(minSize, Math.ceil((VNODES_PER_WEIGHT * total) / min)));
    const counts = eps.map((ep) => Math.max(1, Math.round((size * Math.max(ep.weight, 1e-9)) / total)));
    let entries = 0;
    for (const c of counts) entries += c;
    const packed = new Float64Array(entries);
    let k = 0;
    for (let i = 0; i < eps.length; i++) {
      const state = fnvState(eps[i]!.id);
      for (let r = 0; r < counts[i]!; r++) packed[k++] = hashWithIndex(state, r) * OWNER_BITS + i;
    }
    packed.sort();
    this.hashes = new Uint32Array(entries);
    this.owners = new Uint32Array(entries);
    for (let j = 0; j < entries; j++) {
      const v = packed[j]!;
      const owner = v % OWNER_BITS;
      this.owners[j] = owner;
      this.hashes[j] = (v - owner) / OWNER_BITS;
    }
  }

  /** Ring entries in total (for sizing and tests). */
  get size(): number {
    return this.hashes.length;
  }

  pick(ctx?: PickContext): Endpoint | undefined {
    const n = this.hashes.length;
    if (n === 0) return undefined;
    const key = ctx?.hashKey;
    // Without a key: a random ring position, i.e. weighted random.
    let at = key === undefined ? Math.floor(this.random() * n) : this.lowerBound(hashString(key));
    const first = this.endpoints[this.owners[at]!]!;
    const exclude = ctx?.exclude;
    if (!hasExclusions(exclude) || !exclude.has(first.id)) return first;
    // Walk on clockwise to the next endpoint not excluded (what Envoy does on a retry).
    for (let step = 1; step < n; step++) {
      at = at + 1 === n ? 0 : at + 1;
      const ep = this.endpoints[this.owners[at]!]!;
      if (!exclude.has(ep.id)) return ep;
    }
    return first;
  }

  private lowerBound(h: number): number {
    const hashes = this.hashes;
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === hashes.length ? 0 : lo;
  }
}

/** Consistent hashing on `ctx.hashKey` over a Ketama-style ring; random pick without a key. */
export class RingHashBalancer extends LeafBalancer {
  private readonly options: RingHashOptions;

  constructor(options: RingHashOptions & BalancerDeps = {}) {
    super(options);
    this.options = { minRingSize: options.minRingSize, maxRingSize: options.maxRingSize };
  }

  protected build(endpoints: readonly Endpoint[]): Picker {
    return new RingHashPicker(endpoints, this.options, this.random);
  }
}
