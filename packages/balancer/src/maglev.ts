import type { Endpoint, PickContext, Picker, Random } from '@meshless/core';
import { ConfigError } from '@meshless/core';
import { hashString } from './hash.ts';
import { HashTableBalancer } from './hash-table-balancer.ts';
import { fillMaglev } from './hash-tables.ts';
import { sortedById } from './sorted-diff.ts';
import { type BackgroundBuild, type BalancerDeps, hasExclusions } from './stateful-balancer.ts';

export interface MaglevOptions {
  /** Lookup table size, a prime well above 100 x the endpoint count. Default 65 537. */
  tableSize?: number;
}

export const DEFAULT_MAGLEV_TABLE_SIZE = 65_537;
/**
 * Tables whose size x endpoint count reaches this (256 endpoints at the default size) are built
 * off the main thread on a membership change. The fill costs about 11 ms from 100 endpoints on
 * at the default size (4.5 ms with 3), so below it a table is built in place, as every unit test's.
 */
export const BACKGROUND_MAGLEV_WORK = 2 ** 24;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Google's Maglev lookup table (with Envoy's weighting): each endpoint walks its own
 * permutation of the table (offset + k x skip, both hashed from its id) and claims the next
 * free slot in turn, heavier endpoints taking turns more often. A key is one table lookup;
 * removing one of N endpoints moves about 1/N of the keys. By design the disruption is bounded,
 * not minimal: the fill order shifts, so a few other slots change hands too (measured 0.01-0.5 %
 * of all keys between unchanged endpoints with 4 to 10 endpoints, bench/balancer-quality). Use
 * ring-hash when no key may move between endpoints that stayed.
 */
export class MaglevPicker implements Picker {
  private readonly endpoints: readonly Endpoint[];
  private readonly table: Int32Array;
  private readonly random: Random;

  /**
   * `previous`: the table this one replaces; shared when the ids and weights are the same
   * (only Endpoint objects changed). Any other change builds the table in full: Maglev's fill
   * order depends on every endpoint.
   */
  constructor(
    endpoints: readonly Endpoint[],
    tableSize: number,
    random: Random,
    previous?: MaglevPicker,
    /** @internal The table, filled elsewhere (the background builder). */
    prebuilt?: Int32Array,
  ) {
    if (!isPrime(tableSize)) throw new ConfigError(`maglev table size ${tableSize} is not prime`);
    const eps = sortedById(endpoints);
    this.endpoints = eps;
    this.random = random;
    if (
      previous !== undefined &&
      previous.table.length === tableSize &&
      sameIdsAndWeights(previous.endpoints, eps)
    ) {
      this.table = previous.table;
      return;
    }
    this.table = prebuilt ?? new Int32Array(tableSize);
    if (prebuilt === undefined)
      fillMaglev(
        eps.map((ep) => ep.id),
        relativeWeights(eps),
        this.table,
      );
  }

  /** @internal */
  get tableEndpoints(): readonly Endpoint[] {
    return this.endpoints;
  }

  pick(ctx?: PickContext): Endpoint | undefined {
    if (this.endpoints.length === 0) return undefined;
    const m = this.table.length;
    const key = ctx?.hashKey;
    let at = key === undefined ? Math.floor(this.random() * m) : hashString(key) % m;
    const first = this.endpoints[this.table[at]!]!;
    const exclude = ctx?.exclude;
    if (!hasExclusions(exclude) || !exclude.has(first.id)) return first;
    // Neighbouring slots belong to unrelated endpoints: probing them is a stable second choice.
    for (let step = 1; step < m; step++) {
      at = at + 1 === m ? 0 : at + 1;
      const ep = this.endpoints[this.table[at]!]!;
      if (!exclude.has(ep.id)) return ep;
    }
    return first;
  }
}

/** Consistent hashing on `ctx.hashKey` with a Maglev table; random pick without a key. */
export class MaglevBalancer extends HashTableBalancer {
  private readonly tableSize: number;

  constructor(options: MaglevOptions & BalancerDeps = {}) {
    super(options);
    this.tableSize = options.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
    if (!isPrime(this.tableSize)) {
      throw new ConfigError(`maglev.tableSize ${this.tableSize} is not prime`, { path: 'maglev.tableSize' });
    }
  }

  protected build(endpoints: readonly Endpoint[]): Picker {
    const previous = this.lastBuilt instanceof MaglevPicker ? this.lastBuilt : undefined;
    return new MaglevPicker(endpoints, this.tableSize, this.random, previous);
  }

  /**
   * In the background: a table of BACKGROUND_MAGLEV_WORK or more whose ids or weights change,
   * when there is a table to serve meanwhile with at least one endpoint that stays. Meanwhile
   * the old table probes past the slots of endpoints that left (a stable choice, not the new
   * table's: Maglev's fill order depends on every endpoint).
   */
  protected override buildLater(endpoints: readonly Endpoint[]): BackgroundBuild | undefined {
    const previous = this.lastBuilt;
    if (!(previous instanceof MaglevPicker)) return undefined;
    if (this.tableSize * endpoints.length < BACKGROUND_MAGLEV_WORK) return undefined;
    const eps = sortedById(endpoints);
    const old = previous.tableEndpoints;
    if (sameIdsAndWeights(old, eps)) return undefined;
    const job = {
      kind: 'maglev' as const,
      ids: eps.map((ep) => ep.id),
      weights: relativeWeights(eps),
      size: this.tableSize,
    };
    const { tableSize, random } = this;
    return this.inBackground(
      old,
      eps,
      job,
      (r) => new MaglevPicker(eps, tableSize, random, undefined, r.table),
    );
  }
}

/** Each endpoint's weight relative to the heaviest (all 1 when none weighs anything). */
function relativeWeights(eps: readonly Endpoint[]): Float64Array {
  let maxWeight = 0;
  for (const ep of eps) maxWeight = Math.max(maxWeight, ep.weight);
  return Float64Array.from(eps, (ep) => (maxWeight > 0 ? Math.max(ep.weight, 0) / maxWeight : 1));
}

/** Whether two lists sorted by id hold the same ids with the same weights, in order. */
function sameIdsAndWeights(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y && (x.id !== y.id || x.weight !== y.weight)) return false;
  }
  return true;
}
