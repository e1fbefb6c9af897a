import type { Endpoint, PickContext, Picker, Random } from '@meshless/core';
import { ConfigError } from '@meshless/core';
import { hashString } from './hash.ts';
import { HashTableBalancer } from './hash-table-balancer.ts';
import { fillRing, OWNER_BITS, type RingBase } from './hash-tables.ts';
import { sortedById } from './sorted-diff.ts';
import { type BackgroundBuild, type BalancerDeps, hasExclusions } from './stateful-balancer.ts';

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
/**
 * Rings of at least this many entries (512 endpoints of weight 1) are built off the main thread
 * on a membership change, and live in SharedArrayBuffers so the builder thread reads them
 * without a copy. Smaller ones (every ring of the unit tests but the background ones) are built
 * in place: a merge of 512k entries (1 000 endpoints) blocks about 8 ms (bench/balancer-update).
 */
export const BACKGROUND_RING_ENTRIES = 262_144;

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
    /** @internal This ring's layout, already made, and its arrays if built elsewhere (the background builder). */
    prebuilt?: { readonly layout: RingLayout; readonly hashes?: Uint32Array; readonly owners?: Uint32Array },
  ) {
    const layout = prebuilt?.layout ?? ringLayout(endpoints, options);
    const { eps, counts, entries, rescaled } = layout;
    this.endpoints = eps;
    this.random = random;
    this.counts = counts;
    this.rescaled = rescaled;
    if (prebuilt?.hashes !== undefined && prebuilt.owners !== undefined) {
      this.hashes = prebuilt.hashes;
      this.owners = prebuilt.owners;
      return;
    }
    const plan = previous === undefined ? undefined : mergePlan(previous, layout);
    if (plan === 'same' && previous !== undefined) {
      // Same ids and counts (only Endpoint objects changed): the very same ring, shared (rings are never written after their build).
      this.hashes = previous.hashes;
      this.owners = previous.owners;
      return;
    }
    const hashes = ringArray(entries);
    const owners = ringArray(entries);
    const merged =
      typeof plan === 'object' &&
      fillRing(
        entries,
        plan.fresh,
        plan.fresh.map((i) => eps[i]!.id),
        plan.freshCounts,
        plan.base,
        hashes,
        owners,
      );
    if (!merged) {
      // A full build writes every entry over whatever a failed merge left.
      const all = Uint32Array.from(eps, (_, i) => i);
      fillRing(
        entries,
        all,
        eps.map((ep) => ep.id),
        counts,
        undefined,
        hashes,
        owners,
      );
    }
    this.hashes = hashes;
    this.owners = owners;
  }

  /** @internal The ring's parts, for the next ring to reuse. */
  get ringEndpoints(): readonly Endpoint[] {
    return this.endpoints;
  }
  /** @internal */
  get ringRescaled(): boolean {
    return this.rescaled;
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
export class RingHashBalancer extends HashTableBalancer {
  private readonly options: RingHashOptions;

  constructor(options: RingHashOptions & BalancerDeps = {}) {
    super(options);
    this.options = { minRingSize: options.minRingSize, maxRingSize: options.maxRingSize };
  }

  /** The layout buildLater just made, for build() to reuse when it declined. */
  private lastLayout: { readonly endpoints: readonly Endpoint[]; readonly layout: RingLayout } | undefined;

  protected build(endpoints: readonly Endpoint[]): Picker {
    const previous = this.lastBuilt instanceof RingHashPicker ? this.lastBuilt : undefined;
    const cached = this.lastLayout;
    this.lastLayout = undefined;
    if (cached?.endpoints !== endpoints)
      return new RingHashPicker(endpoints, this.options, this.random, previous);
    return new RingHashPicker(endpoints, this.options, this.random, previous, { layout: cached.layout });
  }

  /**
   * In the background: a ring of BACKGROUND_RING_ENTRIES or more that changes, when there is a
   * ring to serve meanwhile with at least one endpoint that stays. Meanwhile the old ring skips
   * the endpoints that left, walking clockwise past their entries: exactly where the new ring
   * sends those keys, until the newcomers' entries land.
   */
  protected override buildLater(endpoints: readonly Endpoint[]): BackgroundBuild | undefined {
    const previous = this.lastBuilt;
    if (!(previous instanceof RingHashPicker)) return undefined;
    const layout = ringLayout(endpoints, this.options);
    this.lastLayout = { endpoints, layout };
    if (layout.entries < BACKGROUND_RING_ENTRIES) return undefined;
    const plan = mergePlan(previous, layout);
    if (plan === 'same') return undefined;
    const fresh = plan?.fresh ?? Array.from(layout.eps, (_, i) => i);
    const freshCounts = plan?.freshCounts ?? layout.counts;
    const job = {
      kind: 'ring' as const,
      entries: layout.entries,
      freshIndex: Uint32Array.from(fresh),
      freshIds: fresh.map((i) => layout.eps[i]!.id),
      freshCounts: Uint32Array.from(freshCounts),
      base: plan?.base,
    };
    const { options, random } = this;
    const later = this.inBackground(previous.ringEndpoints, layout.eps, job, (r) => {
      return new RingHashPicker(endpoints, options, random, undefined, {
        layout,
        hashes: r.hashes,
        owners: r.owners,
      });
    });
    if (later !== undefined) this.lastLayout = undefined;
    return later;
  }
}

/** A ring's endpoints (sorted by id) and entries per endpoint, rescaled to the bounds if need be. */
export interface RingLayout {
  readonly eps: readonly Endpoint[];
  readonly counts: Uint32Array;
  readonly entries: number;
  readonly rescaled: boolean;
}

/** @internal The layout of the ring over `endpoints`. */
export function ringLayout(endpoints: readonly Endpoint[], options: RingHashOptions): RingLayout {
  const minSize = options.minRingSize ?? DEFAULT_MIN_RING_SIZE;
  const maxSize = options.maxRingSize ?? DEFAULT_MAX_RING_SIZE;
  // Sorted by id: the ring depends on membership, not on the order the resolver listed it.
  const eps = sortedById(endpoints);
  if (eps.length >= OWNER_BITS) throw new ConfigError(`ring hash supports < ${OWNER_BITS} endpoints`);
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
  return { eps, counts, entries, rescaled };
}

/** Ring arrays: large ones shared, so the background builder reads them where they are. */
function ringArray(entries: number): Uint32Array {
  return entries >= BACKGROUND_RING_ENTRIES
    ? new Uint32Array(new SharedArrayBuffer(entries * 4))
    : new Uint32Array(entries);
}

/** Ring entries of an endpoint before any rescale: POINTS_PER_WEIGHT per unit of weight, at least one. */
function pointsOf(ep: Endpoint): number {
  return Math.max(1, Math.round(POINTS_PER_WEIGHT * Math.max(ep.weight, 0)));
}

/**
 * How the ring for `layout` comes from `prev`'s: entries of endpoints kept with the same count
 * are carried over with their owner renumbered (renumbering keeps their order: both lists are
 * sorted by id), the `fresh` endpoints' entries (new, or changed count) are hashed, sorted and
 * merged in by (hash, owner), the order a full build sorts by: the same ring a full build makes.
 * 'same' when the ids and counts did not change; undefined when a full build is due (a ring
 * rescaled to its bounds, or most of it would change anyway and a full build is as cheap).
 */
function mergePlan(
  prev: RingHashPicker,
  layout: RingLayout,
): { base: RingBase; fresh: number[]; freshCounts: number[] } | 'same' | undefined {
  const { eps, counts, entries, rescaled } = layout;
  if (rescaled || prev.ringRescaled) return undefined;
  const old = prev.ringEndpoints;
  const oldCounts = prev.ringCounts;
  // Old owner index -> new one, or -1 for endpoints that left or changed count.
  const remap = new Int32Array(old.length).fill(-1);
  const fresh: number[] = [];
  const freshCounts: number[] = [];
  let freshEntries = 0;
  let j = 0;
  for (let i = 0; i < eps.length; i++) {
    if (j < old.length && old[j] === eps[i] && oldCounts[j] === counts[i]) {
      remap[j++] = i; // the same object (a handle kept): no id comparison
      continue;
    }
    const id = eps[i]!.id;
    while (j < old.length && old[j]!.id < id) j++;
    if (j < old.length && old[j]!.id === id && oldCounts[j] === counts[i]) remap[j++] = i;
    else {
      fresh.push(i);
      freshCounts.push(counts[i]!);
      freshEntries += counts[i]!;
    }
  }
  if (freshEntries * 4 > entries) return undefined;
  if (fresh.length === 0 && old.length === eps.length) return 'same';
  return { base: { hashes: prev.ringHashes, owners: prev.ringOwners, remap }, fresh, freshCounts };
}
