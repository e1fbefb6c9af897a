import type { Endpoint, Picker, Random } from '@meshless/core';
import type { EndpointStats } from './endpoint-stats.ts';
import { P2cPicker } from './p2c.ts';
import { LeafBalancer } from './stateful-balancer.ts';
import { statsOf, type WeightTable, weightTableOf } from './weights.ts';

/**
 * Cost of an endpoint with calls in flight but no latency yet (Finagle's penalty): it is
 * tried once while idle (cost 0), then left alone until its first answer comes back.
 */
export const UNKNOWN_LATENCY_PENALTY = 1e12;

/** Finagle's peak-EWMA load: (pending + 1) x decayed peak latency, with the penalty above. */
export function peakEwmaCost(s: EndpointStats, now: number, decayMs: number): number {
  const latency = s.latencyAt(now, decayMs);
  if (latency === 0 && s.pending !== 0) return UNKNOWN_LATENCY_PENALTY + s.pending;
  return latency * (s.pending + 1);
}

/**
 * Whether `b` costs less than `a` (by peak-EWMA cost / weight), decided without the time, or
 * undefined when the time is needed. Both estimates decay from their last sample by the same
 * e^(-t/decay), so cost_b < cost_a is k_b * e^((at_b - at_a) / decay) < k_a, with
 * k = ewma * (pending + 1) / weight: one exp and no clock read per pick. A no-answer penalty
 * (it fades on its own time constant) or an endpoint without a latency yet needs the time.
 */
export function cheaperWithoutClock(
  a: EndpointStats,
  weightA: number,
  b: EndpointStats,
  weightB: number,
  decayMs: number,
): boolean | undefined {
  if (a.penaltyMs !== 0 || b.penaltyMs !== 0 || a.ewmaMs === 0 || b.ewmaMs === 0) return undefined;
  const ka = (a.ewmaMs * (a.pending + 1)) / (weightA || Number.MIN_VALUE);
  const kb = (b.ewmaMs * (b.pending + 1)) / (weightB || Number.MIN_VALUE);
  return kb * Math.exp((b.ewmaAt - a.ewmaAt) / decayMs) < ka;
}

class PeakEwmaPicker extends P2cPicker {
  private readonly now: () => number;
  private readonly decayMs: number;
  private t = 0;

  constructor(
    endpoints: readonly Endpoint[],
    stats: readonly EndpointStats[],
    table: WeightTable,
    random: Random,
    now: () => number,
    decayMs: number,
  ) {
    super(endpoints, stats, table, random);
    this.now = now;
    this.decayMs = decayMs;
  }

  protected override better(a: number, b: number): number {
    const w = this.table.weights;
    const bCheaper = cheaperWithoutClock(this.stats[a]!, w[a]!, this.stats[b]!, w[b]!, this.decayMs);
    if (bCheaper === undefined) return super.better(a, b);
    return bCheaper ? b : a;
  }

  protected override prepare(): void {
    this.t = this.now();
  }

  protected cost(i: number): number {
    return peakEwmaCost(this.stats[i]!, this.t, this.decayMs);
  }
}

/**
 * Finagle's P2C peak-EWMA: of two random endpoints, take the one with the lower
 * (pending + 1) x latency, where latency jumps to any new peak at once and otherwise decays
 * with the stats store's time constant (default 10 s) on the injected clock. Slow endpoints
 * lose traffic within a call or two and win it back as their estimate decays. A failed call
 * counts as slow (the failure penalty in EndpointStats.observeLatency: at least 4x the
 * estimate and 50 ms, 1 s for a connect error), so a dead instance that refuses connections in 0.1 ms repels traffic.
 */
export class PeakEwmaBalancer extends LeafBalancer {
  private table: WeightTable | undefined;

  protected build(endpoints: readonly Endpoint[]): Picker {
    const stats = statsOf(this.stats, endpoints);
    const table = weightTableOf(this.stats, stats, this.table);
    this.table = table;
    return new PeakEwmaPicker(endpoints, stats, table, this.random, this.now, this.stats.decayMs);
  }
}
