import type { Endpoint, PickContext, Picker, Random } from '@meshless/core';
import { hasExclusions, LeafBalancer } from './stateful-balancer.ts';
import { statsOf, type WeightTable, weightTableOf } from './weights.ts';

/** Picks uniformly, or in proportion to weight when weights differ (binary search, O(log n)). */
export class RandomPicker implements Picker {
  private readonly endpoints: readonly Endpoint[];
  private readonly table: WeightTable;
  private readonly random: Random;

  constructor(endpoints: readonly Endpoint[], table: WeightTable, random: Random) {
    this.endpoints = endpoints;
    this.table = table;
    this.random = random;
  }

  pick(ctx?: PickContext): Endpoint | undefined {
    const ep = this.endpoints[this.table.sample(this.random())];
    const exclude = ctx?.exclude;
    if (ep === undefined || !hasExclusions(exclude) || !exclude.has(ep.id)) return ep;
    return pickAllowed(this.endpoints, this.table.weights, exclude, this.random) ?? ep;
  }
}

/** A weighted random pick among endpoints not in `exclude`; undefined when none remain. */
export function pickAllowed(
  endpoints: readonly Endpoint[],
  weights: Float64Array,
  exclude: ReadonlySet<string>,
  random: Random,
): Endpoint | undefined {
  // The retry path: allocating here is fine, it is not the first attempt's hot path.
  let total = 0;
  const allowed: number[] = [];
  for (let i = 0; i < endpoints.length; i++) {
    if (exclude.has(endpoints[i]!.id)) continue;
    allowed.push(i);
    total += weights[i]!;
  }
  if (allowed.length === 0) return undefined;
  if (!(total > 0)) return endpoints[allowed[Math.floor(random() * allowed.length)]!];
  let target = random() * total;
  for (const i of allowed) {
    target -= weights[i]!;
    if (target < 0) return endpoints[i];
  }
  return endpoints[allowed[allowed.length - 1]!];
}

/** Random choice, weighted by `weight` x slow-start scale when the weights differ. */
export class RandomBalancer extends LeafBalancer {
  private table: WeightTable | undefined;

  protected build(endpoints: readonly Endpoint[]): Picker {
    const table = weightTableOf(this.stats, statsOf(this.stats, endpoints), this.table);
    this.table = table;
    return new RandomPicker(endpoints, table, this.random);
  }
}
