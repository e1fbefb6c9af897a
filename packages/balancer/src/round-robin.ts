import type { Endpoint, PickContext, Picker } from '@meshless/core';
import { SmoothWeightedPicker } from './smooth-weighted-picker.ts';
import { hasExclusions, LeafBalancer } from './stateful-balancer.ts';
import { effectiveWeights, statsOf } from './weights.ts';

/** Cycles through the endpoints in order; starts at a random one so callers do not march in step. */
export class RoundRobinPicker implements Picker {
  private readonly endpoints: readonly Endpoint[];
  private next: number;

  constructor(endpoints: readonly Endpoint[], start = 0) {
    this.endpoints = endpoints;
    this.next = endpoints.length === 0 ? 0 : start % endpoints.length;
  }

  pick(ctx?: PickContext): Endpoint | undefined {
    const eps = this.endpoints;
    const n = eps.length;
    if (n === 0) return undefined;
    let i = this.next;
    this.next = i + 1 === n ? 0 : i + 1;
    const first = eps[i]!;
    const exclude = ctx?.exclude;
    if (!hasExclusions(exclude) || !exclude.has(first.id)) return first;
    for (let k = 1; k < n; k++) {
      i = i + 1 === n ? 0 : i + 1;
      const ep = eps[i]!;
      if (!exclude.has(ep.id)) {
        this.next = i + 1 === n ? 0 : i + 1;
        return ep;
      }
    }
    return first;
  }
}

/**
 * Round-robin. Ignores endpoint weights (use weighted-round-robin for those) but honours a
 * slow-start ramp, which turns it into smooth WRR over the ramp factors until the ramp ends.
 */
export class RoundRobinBalancer extends LeafBalancer {
  protected build(endpoints: readonly Endpoint[]): Picker {
    const start = Math.floor(this.random() * endpoints.length);
    const stats = statsOf(this.stats, endpoints);
    // No ramp anywhere: every scale is 1, plain round-robin.
    if (!this.stats.scalesInUse) return new RoundRobinPicker(endpoints, start);
    const scales = effectiveWeights(stats, false);
    for (let i = 0; i < scales.length; i++) {
      if (scales[i] !== 1) {
        const previous = this.picker instanceof SmoothWeightedPicker ? this.picker : undefined;
        return new SmoothWeightedPicker(endpoints, scales, previous);
      }
    }
    return new RoundRobinPicker(endpoints, start);
  }
}
