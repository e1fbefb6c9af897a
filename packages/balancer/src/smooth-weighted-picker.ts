import type { Endpoint, PickContext, Picker } from '@meshless/core';
import { hasExclusions } from './stateful-balancer.ts';
import { sameWeights } from './weights.ts';

/** Largest precomputed schedule (entries) and build work (n x entries) we accept. */
const MAX_SCHEDULE = 1 << 20;
const MAX_SCHEDULE_WORK = 1 << 23;

/**
 * nginx's smooth weighted round-robin: every pick adds each weight to its endpoint's current
 * value, takes the largest, and subtracts the total from it. Weights 5,1,1 give
 * a,a,b,a,c,a,a: heavy endpoints are interleaved, never sent bursts.
 *
 * With integer weights the sequence repeats every sum-of-weights picks (each endpoint is
 * taken exactly `weight` times, which brings every current value back to 0), so when that
 * cycle is small it is computed once at build and a pick is an array read. Otherwise
 * (slow-start fractions, huge weights) each pick runs the O(n) loop.
 */
export class SmoothWeightedPicker implements Picker {
  private readonly endpoints: readonly Endpoint[];
  private readonly weights: Float64Array;
  private readonly current: Float64Array;
  private readonly total: number;
  private readonly schedule: Uint32Array | undefined;
  private position = 0;

  /**
   * `previous`: a picker over the same weights in the same order (endpoints replaced by new
   * objects, as on an update that changed no weight): its schedule is reused (O(total x n) to
   * build) and the sequence goes on where it was.
   */
  constructor(endpoints: readonly Endpoint[], weights: Float64Array, previous?: SmoothWeightedPicker) {
    this.endpoints = endpoints;
    if (previous !== undefined && sameWeights(previous.weights, weights)) {
      this.weights = previous.weights;
      this.current = Float64Array.from(previous.current);
      this.total = previous.total;
      this.schedule = previous.schedule;
      this.position = previous.position;
      return;
    }
    this.weights = weights;
    this.current = new Float64Array(endpoints.length);
    let total = 0;
    let integral = true;
    for (let i = 0; i < weights.length; i++) {
      total += weights[i]!;
      if (!Number.isInteger(weights[i])) integral = false;
    }
    this.total = total;
    const cycle = integral && total <= MAX_SCHEDULE && total * weights.length <= MAX_SCHEDULE_WORK;
    this.schedule = cycle && total > 0 ? this.buildSchedule(total) : undefined;
  }

  pick(ctx?: PickContext): Endpoint | undefined {
    const exclude = ctx?.exclude;
    const schedule = this.schedule;
    if (schedule !== undefined) {
      let p = this.position;
      const first = this.endpoints[schedule[p]!]!;
      this.position = p + 1 === schedule.length ? 0 : p + 1;
      if (!hasExclusions(exclude) || !exclude.has(first.id)) return first;
      // Walk on through the cycle: the rest keep their relative weights and order.
      for (let k = 1; k < schedule.length; k++) {
        p = p + 1 === schedule.length ? 0 : p + 1;
        const ep = this.endpoints[schedule[p]!]!;
        if (!exclude.has(ep.id)) {
          this.position = p + 1 === schedule.length ? 0 : p + 1;
          return ep;
        }
      }
      return first;
    }
    if (hasExclusions(exclude)) return this.pickExcluding(exclude);
    return this.endpoints[this.step()];
  }

  private step(): number {
    const w = this.weights;
    const cur = this.current;
    let best = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < w.length; i++) {
      const v = cur[i]! + w[i]!;
      cur[i] = v;
      if (v > bestValue) {
        bestValue = v;
        best = i;
      }
    }
    cur[best] = bestValue - this.total;
    return best;
  }

  private buildSchedule(length: number): Uint32Array {
    const schedule = new Uint32Array(length);
    for (let k = 0; k < length; k++) schedule[k] = this.step();
    return schedule;
  }

  /** The same algorithm over the endpoints not excluded (all of them if none remain). */
  private pickExcluding(exclude: ReadonlySet<string>): Endpoint | undefined {
    const eps = this.endpoints;
    const w = this.weights;
    const cur = this.current;
    let total = 0;
    let best = -1;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < eps.length; i++) {
      if (exclude.has(eps[i]!.id)) continue;
      const v = cur[i]! + w[i]!;
      cur[i] = v;
      total += w[i]!;
      if (v > bestValue) {
        bestValue = v;
        best = i;
      }
    }
    if (best < 0) return eps[this.step()];
    cur[best] = bestValue - total;
    return eps[best];
  }
}
