import type { Endpoint, PickContext, Picker, Random } from '@meshless/core';
import { ConfigError } from '@meshless/core';
import { fnvState, hashString, hashWithIndex } from './hash.ts';
import { type BalancerDeps, hasExclusions, LeafBalancer } from './stateful-balancer.ts';

export interface RingHashOptions {
  /**
   * Fewest ring entries in total. Default 1024 (Envoy's), which two endpoints of weight 1
   * already reach, so by default it only ever binds for a single endpoint. A ring below it is
   * scaled up, which changes every endpoint's share (keys then move between endpoints that stayed).
   */
  minRingSize?: number;
  /**
   * Most ring entries in total. Default 8 388 608 (Envoy's): a total weight above 16 384. A ring
   * above it is scaled down, with the same caveat as minRingSize.
   */
  maxRingSize?: number;
}

export const DEFAULT_MIN_RING_SIZE = 1024;
export const DEFAULT_MAX_RING_SIZE = 8_388_608;
/**
 * Ring entries per unit of endpoint weight, whatever the other endpoints are: so a membership or
 * weight change alters only the changed endpoint's entries (nginx and HAProxy also use a fixed
 * count per weight). Measured (30 sets of endpoint ids, 2 to 10 endpoints of weight 1): the
 * largest share is at most 1.12x its ideal and max/min at most 1.25x; 160 (Ketama's count) gave
 * 1.29x and 1.53x. See docs/decisions.md.
 */
export const POINTS_PER_WEIGHT = 512;
/** Owner indexes are packed below the hash in one float64 for a native typed-array sort. */
const OWNER_BITS = 2 ** 21;

/**
 * A Ketama-style ring: each endpoint owns the hashes of its `id` + replica number 0..k-1, with
 * k = POINTS_PER_WEIGHT x its weight, derived from that endpoint alone. A key goes to the owner
 * of the first entry at or after its hash. So when an endpoint leaves, joins or changes weight,
 * only keys of that endpoint's entries change owner: a leaver's keys go to the others, a
 * newcomer (or a heavier endpoint) takes keys from the others, and no key moves between two
 * endpoints that did not change. Only a ring outside the size bounds is rescaled as a whole.
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
    // Each endpoint's count depends on its own weight only (never on the total or the lightest).
    const counts = eps.map((ep) => Math.max(1, Math.round(POINTS_PER_WEIGHT * Math.max(ep.weight, 0))));
    let entries = 0;
    for (const c of counts) entries += c;
    if (entries < minSize || entries > maxSize) {
      // Outside the bounds (one endpoint, or a huge total weight): Envoy's proportional rescale.
      const size = Math.min(maxSize, Math.max(minSize, entries));
      const total = entries;
      entries = 0;
      for (let i = 0; i < counts.length; i++) {
        counts[i] = Math.max(1, Math.round((size * counts[i]!) / total));
        entries += counts[i]!;
      }
    }
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
