import type { Endpoint, PickContext, Picker, Random } from '@meshless/core';
import { ConfigError } from '@meshless/core';
import { fnvState, hashString, hashWithIndex } from './hash.ts';
import { sortedById } from './sorted-diff.ts';
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
  /** Entries per endpoint (parallel to `endpoints`); the ring was rescaled to its bounds when `rescaled`. */
  private readonly counts: Uint32Array;
  private readonly rescaled: boolean;
  private readonly random: Random;

  /**
   * `previous`: the ring this one replaces. Its entries are reused: as they are when the ids
   * and weights did not change (only Endpoint objects did), else merged with the entries of
   * the endpoints that came or changed weight, without those of the ones that left: the same
   * ring a full build makes, in one pass over it instead of hashing and sorting every entry.
   */
  constructor(
    endpoints: readonly Endpoint[],
    options: RingHashOptions,
    random: Random,
    previous?: RingHashPicker,
  ) {
    const minSize = options.minRingSize ?? DEFAULT_MIN_RING_SIZE;
    const maxSize = options.maxRingSize ?? DEFAULT_MAX_RING_SIZE;
    // Sorted by id: the ring depends on membership, not on the order the resolver listed it.
    const eps = sortedById(endpoints);
    if (eps.length >= OWNER_BITS) throw new ConfigError(`ring hash supports < ${OWNER_BITS} endpoints`);
    this.endpoints = eps;
    this.random = random;
    // Each endpoint's count depends on its own weight only (never on the total or the lightest).
    const counts = new Uint32Array(eps.length);
    let entries = 0;
    for (let i = 0; i < eps.length; i++) {
      counts[i] = pointsOf(eps[i]!);
      entries += counts[i]!;
    }
    const rescaled = entries < minSize || entries > maxSize;
    if (rescaled) {
      // Outside the bounds (one endpoint, or a huge total weight): Envoy's proportional rescale.
      const size = Math.min(maxSize, Math.max(minSize, entries));
      const total = entries;
      entries = 0;
      for (let i = 0; i < counts.length; i++) {
        counts[i] = Math.max(1, Math.round((size * counts[i]!) / total));
        entries += counts[i]!;
      }
    }
    this.counts = counts;
    this.rescaled = rescaled;
    if (previous !== undefined && !rescaled && !previous.rescaled) {
      const reused = mergeRing(previous, eps, counts, entries);
      if (reused !== undefined) {
        this.hashes = reused.hashes;
        this.owners = reused.owners;
        return;
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

  /** @internal The ring's parts, for the next ring to reuse. */
  get ringEndpoints(): readonly Endpoint[] {
    return this.endpoints;
  }
  /** @internal */
  get ringCounts(): Uint32Array {
    return this.counts;
  }
  /** @internal */
  get ringHashes(): Uint32Array {
    return this.hashes;
  }
  /** @internal */
  get ringOwners(): Uint32Array {
    return this.owners;
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
    const previous = this.picker instanceof RingHashPicker ? this.picker : undefined;
    return new RingHashPicker(endpoints, this.options, this.random, previous);
  }
}

/** Ring entries of an endpoint before any rescale: POINTS_PER_WEIGHT per unit of weight, at least one. */
function pointsOf(ep: Endpoint): number {
  return Math.max(1, Math.round(POINTS_PER_WEIGHT * Math.max(ep.weight, 0)));
}

/**
 * The ring for `eps` (sorted by id, `counts` entries each, `entries` in all) from `prev`'s:
 * entries of endpoints kept with the same count are carried over with their owner renumbered
 * (renumbering keeps their order: both lists are sorted by id), the new endpoints' entries are
 * hashed, sorted and merged in by (hash, owner), the order a full build sorts by. Undefined
 * when most of the ring would change anyway (a full build is then as cheap).
 */
function mergeRing(
  prev: RingHashPicker,
  eps: readonly Endpoint[],
  counts: Uint32Array,
  entries: number,
): { hashes: Uint32Array; owners: Uint32Array } | undefined {
  const old = prev.ringEndpoints;
  const oldCounts = prev.ringCounts;
  // Old owner index -> new one, or -1 for endpoints that left or changed count.
  const remap = new Int32Array(old.length).fill(-1);
  const fresh: number[] = [];
  let j = 0;
  for (let i = 0; i < eps.length; i++) {
    if (j < old.length && old[j] === eps[i] && oldCounts[j] === counts[i]) {
      remap[j++] = i; // the same object (a handle kept): no id comparison
      continue;
    }
    const id = eps[i]!.id;
    while (j < old.length && old[j]!.id < id) j++;
    if (j < old.length && old[j]!.id === id && oldCounts[j] === counts[i]) remap[j++] = i;
    else fresh.push(i);
  }
  let freshEntries = 0;
  for (const i of fresh) freshEntries += counts[i]!;
  if (freshEntries * 4 > entries) return undefined;
  const oldHashes = prev.ringHashes;
  const oldOwners = prev.ringOwners;
  // Same ids and counts (only Endpoint objects changed): the very same ring, shared (rings are never written after their build).
  if (fresh.length === 0 && old.length === eps.length) return { hashes: oldHashes, owners: oldOwners };
  const hashes = new Uint32Array(entries);
  const owners = new Uint32Array(entries);
  const added = new Float64Array(freshEntries);
  let a = 0;
  for (const i of fresh) {
    const state = fnvState(eps[i]!.id);
    for (let r = 0; r < counts[i]!; r++) added[a++] = hashWithIndex(state, r) * OWNER_BITS + i;
  }
  added.sort();
  let k = 0;
  let x = 0;
  const n = oldHashes.length;
  for (let o = 0; o < n; o++) {
    const owner = remap[oldOwners[o]!]!;
    if (owner < 0) continue;
    const h = oldHashes[o]!;
    const v = h * OWNER_BITS + owner;
    while (x < freshEntries && added[x]! < v) {
      const w = added[x++]!;
      const wo = w % OWNER_BITS;
      owners[k] = wo;
      hashes[k++] = (w - wo) / OWNER_BITS;
    }
    owners[k] = owner;
    hashes[k++] = h;
  }
  while (x < freshEntries) {
    const w = added[x++]!;
    const wo = w % OWNER_BITS;
    owners[k] = wo;
    hashes[k++] = (w - wo) / OWNER_BITS;
  }
  return k === entries ? { hashes, owners } : undefined;
}
