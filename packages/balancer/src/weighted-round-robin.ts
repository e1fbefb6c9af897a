import type { Endpoint, Picker } from '@meshless/core';
import { RoundRobinPicker } from './round-robin.ts';
import { SmoothWeightedPicker } from './smooth-weighted-picker.ts';
import { LeafBalancer } from './stateful-balancer.ts';
import { effectiveWeights, statsOf } from './weights.ts';

/** Builds a smooth WRR picker, or a plain round-robin one when all weights are equal. */
export function weightedRoundRobinPicker(
  endpoints: readonly Endpoint[],
  weights: Float64Array,
  start: number,
  previous?: Picker,
): Picker {
  let equal = true;
  for (let i = 1; i < weights.length; i++) if (weights[i] !== weights[0]) equal = false;
  if (equal) return new RoundRobinPicker(endpoints, start);
  return new SmoothWeightedPicker(
    endpoints,
    weights,
    previous instanceof SmoothWeightedPicker ? previous : undefined,
  );
}

/** nginx's smooth weighted round-robin over `weight` x slow-start scale (see SmoothWeightedPicker). */
export class WeightedRoundRobinBalancer extends LeafBalancer {
  protected build(endpoints: readonly Endpoint[]): Picker {
    const stats = statsOf(this.stats, endpoints);
    const start = Math.floor(this.random() * endpoints.length);
    // Every effective weight the same: plain round-robin, no weights to compute.
    if (this.stats.uniformWeight !== undefined) return new RoundRobinPicker(endpoints, start);
    const weights = effectiveWeights(stats);
    return weightedRoundRobinPicker(endpoints, weights, start, this.picker);
  }
}
