import type { Balancer, CallOutcome, Endpoint, Picker, Random } from '@meshless/core';
import { systemRandom } from '@meshless/core';
import { EndpointStatsStore } from './endpoint-stats.ts';

/** Injected time, randomness and (optionally) a stats store adopted from another balancer. */
export interface BalancerDeps {
  /** Monotonic milliseconds. Default: the store's clock (`systemClock.now`). */
  now?: () => number;
  /** Default: `Math.random`. */
  random?: Random;
  /** Share or adopt per-endpoint stats (pending, EWMA, errors, ejections, first-seen). */
  stats?: EndpointStatsStore;
}

/**
 * A Balancer of this package: it exposes the stats store it shares with the layers around it,
 * and `rebuild()`, which builds a picker over a given list without changing the known
 * membership (wrappers pass filtered lists down through it).
 */
export interface StatefulBalancer extends Balancer {
  readonly stats: EndpointStatsStore;
  rebuild(endpoints: readonly Endpoint[]): void;
  /** True when it reads ejection state itself and wants ejected endpoints passed in. */
  readonly healthAware?: boolean;
}

export const emptyPicker: Picker = { pick: () => undefined };

/** Base of the algorithm balancers: stats bookkeeping, and a picker built on each change. */
export abstract class LeafBalancer implements StatefulBalancer {
  readonly stats: EndpointStatsStore;
  protected readonly now: () => number;
  protected readonly random: Random;
  private current: Picker = emptyPicker;

  constructor(deps: BalancerDeps = {}) {
    this.stats = deps.stats ?? new EndpointStatsStore({ now: deps.now });
    this.now = deps.now ?? this.stats.now;
    this.random = deps.random ?? systemRandom;
  }

  get picker(): Picker {
    return this.current;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.stats.sync(endpoints);
    this.rebuild(endpoints);
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    this.current = endpoints.length === 0 ? emptyPicker : this.build(endpoints);
  }

  protected abstract build(endpoints: readonly Endpoint[]): Picker;

  onCallStart(endpoint: Endpoint): void {
    this.stats.callStarted(endpoint);
  }

  onCallEnd(endpoint: Endpoint, outcome: CallOutcome): void {
    this.stats.callEnded(endpoint, outcome);
  }

  dispose(): void {
    this.current = emptyPicker;
  }
}

/** True when `exclude` is given and non-empty (the retry path). */
export function hasExclusions(exclude: ReadonlySet<string> | undefined): exclude is ReadonlySet<string> {
  return exclude !== undefined && exclude.size > 0;
}
