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
): Picker {
  let equal = true;
  for (let i = 1; i < weights.length; i++) if (weights[i] !== weights[0]) equal = false;
  return equal ? new RoundRobinPicker(endpoints, start) : new SmoothWeightedPicker(endpoints, weights);
}

/** nginx's smooth weighted round-robin over `weight` x slow-start scale (see SmoothWeightedPicker). */
export class WeightedRoundRobinBalancer extends LeafBalancer {
  protected build(endpoints: readonly Endpoint[]): Picker {
    const weights = effectiveWeights(statsOf(this.stats, endpoints));
    return weightedRoundRobinPicker(endpoints, weights, Math.floor(this.random() * endpoints.length));
  }
}
