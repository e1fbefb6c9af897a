import type { Endpoint, PickContext, Picker, Random } from '@meshless/core';
import type { EndpointStats } from './endpoint-stats.ts';
import { hasExclusions } from './stateful-balancer.ts';
import { WeightTable } from './weights.ts';

/**
 * Power of two choices: draw two different endpoints (in proportion to weight), keep the
 * cheaper by `cost / weight`. Ties keep the first draw, so an idle cluster is served in
 * proportion to weight. Subclasses define the cost; `prepare()` runs once per pick.
 */
export abstract class P2cPicker implements Picker {
  protected readonly endpoints: readonly Endpoint[];
  protected readonly stats: readonly EndpointStats[];
  protected readonly table: WeightTable;
  protected readonly random: Random;

  constructor(
    endpoints: readonly Endpoint[],
    stats: readonly EndpointStats[],
    table: WeightTable,
    random: Random,
  ) {
    this.endpoints = endpoints;
    this.stats = stats;
    this.table = table;
    this.random = random;
  }

  /** Load of endpoint `i`; lower is better. */
  protected abstract cost(i: number): number;

  /** Called once per pick before `cost()` (e.g. to read the clock once). */
  protected prepare(): void {}

  pick(ctx?: PickContext): Endpoint | undefined {
    const n = this.endpoints.length;
    if (n <= 1) return this.endpoints[0];
    const exclude = ctx?.exclude;
    if (hasExclusions(exclude)) return this.pickExcluding(exclude);
    const a = this.table.sample(this.random());
    const b = this.table.sampleOther(a, this.random);
    return this.endpoints[this.better(a, b)];
  }

  /** The cheaper of draws `a` and `b` by `cost / weight` (ties keep `a`). */
  protected better(a: number, b: number): number {
    this.prepare();
    const w = this.table.weights;
    const ca = this.cost(a) / (w[a]! || Number.MIN_VALUE);
    const cb = this.cost(b) / (w[b]! || Number.MIN_VALUE);
    return cb < ca ? b : a;
  }

  private pickExcluding(exclude: ReadonlySet<string>): Endpoint | undefined {
    // The retry path: build the allowed subset (allocates, but only on retries).
    const allowed: number[] = [];
    for (let i = 0; i < this.endpoints.length; i++) if (!exclude.has(this.endpoints[i]!.id)) allowed.push(i);
    if (allowed.length === 0) return this.pick();
    if (allowed.length === 1) return this.endpoints[allowed[0]!];
    const sub = new WeightTable(Float64Array.from(allowed, (i) => this.table.weights[i]!));
    const a = sub.sample(this.random());
    const b = sub.sampleOther(a, this.random);
    return this.endpoints[this.better(allowed[a]!, allowed[b]!)];
  }
}
