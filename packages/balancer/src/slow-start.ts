import type { CallOutcome, Endpoint, PickContext, Picker } from '@meshless/core';
import type { EndpointStatsStore } from './endpoint-stats.ts';
import type { StatefulBalancer } from './stateful-balancer.ts';
import { statsOf } from './weights.ts';

export interface SlowStartOptions {
  /** Length of the ramp from `minWeightPercent` to full weight. */
  slowStartMs: number;
  /** Monotonic milliseconds. Default: the stats store's clock. */
  now?: () => number;
  /** Weight at the start of the ramp, in percent of full weight. Default 10. */
  minWeightPercent?: number;
  /** Envoy's aggression: factor = (age / slowStartMs) ^ (1 / aggression). Default 1 (linear). */
  aggression?: number;
  /** How often the weights are recomputed during a ramp. Default slowStartMs / 20, at least 50 ms. */
  stepMs?: number;
}

/**
 * Envoy's slow start: an endpoint that joins after the first membership gets a weight factor
 * rising from `minWeightPercent` to 1 over `slowStartMs`, so a cold instance (empty caches,
 * JIT not warm) is not handed its full share at once. Endpoints present from the start are
 * not ramped. The factor is written to the shared stats (`weightScale`), read by the
 * weight-aware pickers when the child rebuilds: weighted-round-robin, random, least-request,
 * p2c-peak-ewma, and round-robin during the ramp; hash pickers ignore it (a ramp would remap keys).
 * The ramp advances lazily on pick, at most once per step; no timers.
 */
export class SlowStart implements StatefulBalancer {
  readonly stats: EndpointStatsStore;
  private readonly child: StatefulBalancer;
  private readonly now: () => number;
  private readonly slowStartMs: number;
  private readonly minFactor: number;
  private readonly exponent: number;
  private readonly stepMs: number;
  private endpoints: readonly Endpoint[] = [];
  private nextStepAt = Number.POSITIVE_INFINITY;
  private current: Picker;
  private readonly rampPicker: Picker;

  constructor(child: StatefulBalancer, options: SlowStartOptions) {
    this.child = child;
    this.stats = child.stats;
    this.now = options.now ?? child.stats.now;
    this.slowStartMs = Math.max(0, options.slowStartMs);
    this.minFactor = Math.min(1, Math.max(0.0001, (options.minWeightPercent ?? 10) / 100));
    this.exponent = 1 / Math.max(0.0001, options.aggression ?? 1);
    this.stepMs = options.stepMs ?? Math.max(50, this.slowStartMs / 20);
    this.current = child.picker;
    // One prepared picker for the ramp: checks the clock, then delegates to the child's picker.
    this.rampPicker = {
      pick: (ctx?: PickContext) => {
        if (this.now() >= this.nextStepAt) this.apply();
        return this.child.picker.pick(ctx);
      },
    };
  }

  get healthAware(): boolean {
    return this.child.healthAware === true;
  }

  get picker(): Picker {
    return this.current;
  }

  /** Weight factor of an endpoint now, in (0, 1]. */
  factorOf(id: string): number {
    return this.stats.get(id)?.weightScale ?? 1;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.stats.sync(endpoints);
    this.rebuild(endpoints);
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
    this.apply();
  }

  onCallStart(endpoint: Endpoint): void {
    this.child.onCallStart(endpoint);
  }

  onCallEnd(endpoint: Endpoint, outcome: CallOutcome): void {
    this.child.onCallEnd(endpoint, outcome);
  }

  dispose(): void {
    for (const s of this.stats.joined) s.weightScale = 1;
    this.stats.scalesInUse = false;
    this.child.dispose();
  }

  private apply(): void {
    const now = this.now();
    let ramping = false;
    const store = this.stats;
    // Lists fed outside sync may hold endpoints the store does not know yet: it learns them
    // here, so a newcomer ramps from this build on (the stack's own list needs no lookup).
    if (this.endpoints !== store.handles) statsOf(store, this.endpoints);
    // Only endpoints that joined after the first membership ramp: walk those, not everyone.
    for (const s of store.joined) {
      const age = now - s.firstSeen;
      if (this.slowStartMs === 0 || age >= this.slowStartMs) {
        s.weightScale = 1;
        store.joined.delete(s); // done: it does not ramp again (a later rule neither)
      } else {
        s.weightScale = Math.max(this.minFactor, (Math.max(0, age) / this.slowStartMs) ** this.exponent);
        ramping = true;
      }
    }
    // Pickers read the scales only while some are in use.
    store.scalesInUse = ramping;
    this.child.rebuild(this.endpoints);
    this.nextStepAt = ramping ? now + this.stepMs : Number.POSITIVE_INFINITY;
    this.current = ramping ? this.rampPicker : this.child.picker;
  }
}
