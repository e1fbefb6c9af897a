import type { Endpoint, PickContext, Picker, Random } from '@meshless/core';
import { ConfigError } from '@meshless/core';
import { hashString } from './hash.ts';
import { sortedById } from './sorted-diff.ts';
import { type BalancerDeps, hasExclusions, LeafBalancer } from './stateful-balancer.ts';

export interface MaglevOptions {
  /** Lookup table size, a prime well above 100 x the endpoint count. Default 65 537. */
  tableSize?: number;
}

export const DEFAULT_MAGLEV_TABLE_SIZE = 65_537;
const OFFSET_SEED = 0x6d61676c; // 'magl'
const SKIP_SEED = 0x65763031; // 'ev01'

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
  constructor(endpoints: readonly Endpoint[], tableSize: number, random: Random, previous?: MaglevPicker) {
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
    const m = tableSize;
    const table = new Int32Array(m).fill(-1);
    this.table = table;
    const n = eps.length;
    if (n === 0) return;
    const offset = new Float64Array(n);
    const skip = new Float64Array(n);
    const next = new Float64Array(n);
    const weight = new Float64Array(n);
    const target = new Float64Array(n);
    let maxWeight = 0;
    for (const ep of eps) maxWeight = Math.max(maxWeight, ep.weight);
    for (let i = 0; i < n; i++) {
      const id = eps[i]!.id;
      offset[i] = hashString(id, OFFSET_SEED) % m;
      skip[i] = (hashString(id, SKIP_SEED) % (m - 1)) + 1;
      weight[i] = maxWeight > 0 ? Math.max(eps[i]!.weight, 0) / maxWeight : 1;
    }
    let filled = 0;
    for (let iteration = 1; filled < m; iteration++) {
      for (let i = 0; i < n && filled < m; i++) {
        // An endpoint of weight max/3 takes a turn every third iteration.
        if (iteration * weight[i]! < target[i]!) continue;
        target[i]! += 1;
        let c = (offset[i]! + next[i]! * skip[i]!) % m;
        while (table[c] !== -1) {
          next[i]!++;
          c = (offset[i]! + next[i]! * skip[i]!) % m;
        }
        table[c] = i;
        next[i]!++;
        filled++;
      }
    }
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
export class MaglevBalancer extends LeafBalancer {
  private readonly tableSize: number;

  constructor(options: MaglevOptions & BalancerDeps = {}) {
    super(options);
    this.tableSize = options.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
    if (!isPrime(this.tableSize)) {
      throw new ConfigError(`maglev.tableSize ${this.tableSize} is not prime`, { path: 'maglev.tableSize' });
    }
  }

  protected build(endpoints: readonly Endpoint[]): Picker {
    const previous = this.picker instanceof MaglevPicker ? this.picker : undefined;
    return new MaglevPicker(endpoints, this.tableSize, this.random, previous);
  }
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
