import type { Endpoint, Random } from '@meshless/core';
import type { EndpointStats, EndpointStatsStore } from './endpoint-stats.ts';

/**
 * Effective weights of a picker's endpoints (weight x slow-start scale), with a cumulative
 * table for weighted sampling when they differ. Built once per picker.
 */
export class WeightTable {
  readonly weights: Float64Array;
  /** Cumulative weights; undefined when all weights are equal (uniform sampling). */
  readonly cumulative: Float64Array | undefined;
  readonly total: number;

  constructor(weights: Float64Array) {
    this.weights = weights;
    let total = 0;
    let uniform = true;
    for (let i = 0; i < weights.length; i++) {
      total += weights[i]!;
      if (weights[i] !== weights[0]) uniform = false;
    }
    this.total = total;
    // All-zero weights cannot be sampled by weight: fall back to uniform.
    if (uniform || !(total > 0)) this.cumulative = undefined;
    else {
      const cum = new Float64Array(weights.length);
      let acc = 0;
      for (let i = 0; i < weights.length; i++) {
        acc += weights[i]!;
        cum[i] = acc;
      }
      this.cumulative = cum;
    }
  }

  get uniform(): boolean {
    return this.cumulative === undefined;
  }

  /** An index drawn in proportion to weight, from one uniform number `r` in [0, 1). */
  sample(r: number): number {
    const cum = this.cumulative;
    const n = this.weights.length;
    if (cum === undefined) return Math.min(n - 1, Math.floor(r * n));
    const target = r * this.total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** A second index, different from `first` when there are two or more (power of two choices). */
  sampleOther(first: number, random: Random): number {
    const n = this.weights.length;
    if (this.cumulative === undefined) return (first + 1 + Math.floor(random() * (n - 1))) % n;
    for (let tries = 0; tries < 4; tries++) {
      const j = this.sample(random());
      if (j !== first) return j;
    }
    return (first + 1) % n;
  }
}

/** The stats of each endpoint, in order (created on demand for lists fed outside `sync`). */
export function statsOf(store: EndpointStatsStore, endpoints: readonly Endpoint[]): EndpointStats[] {
  return endpoints.map((ep) => store.ensure(ep));
}

/** Weight x slow-start scale per endpoint; `useEndpointWeight: false` keeps only the scale. */
export function effectiveWeights(stats: readonly EndpointStats[], useEndpointWeight = true): Float64Array {
  const w = new Float64Array(stats.length);
  for (let i = 0; i < stats.length; i++) {
    const s = stats[i]!;
    const base = useEndpointWeight ? Math.max(s.endpoint.weight, 0) : 1;
    w[i] = base * s.weightScale;
  }
  return w;
}
