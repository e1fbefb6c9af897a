import type { CallOutcome, Endpoint, Picker } from '@meshless/core';
import type { EndpointStats, EndpointStatsStore } from './endpoint-stats.ts';
import type { StatefulBalancer } from './stateful-balancer.ts';

export interface PanicThresholdOptions {
  /** Below this share of healthy (not ejected) endpoints, balance over all. 0 disables. Default 50. */
  thresholdPercent?: number;
}

export const DEFAULT_PANIC_THRESHOLD_PERCENT = 50;

/**
 * Envoy's panic threshold: normally the child balances over healthy (not ejected) endpoints
 * only; when fewer than `thresholdPercent` of the known endpoints are healthy, concentrating
 * all traffic on the few left would topple them too, so it balances over all of them again.
 * With the threshold at 0 and every endpoint ejected, the picker is empty (Envoy fails too).
 */
export class PanicThreshold implements StatefulBalancer {
  readonly healthAware = true;
  readonly stats: EndpointStatsStore;
  private readonly child: StatefulBalancer;
  private readonly thresholdPercent: number;
  private panic = false;

  constructor(child: StatefulBalancer, options: PanicThresholdOptions = {}) {
    this.child = child;
    this.stats = child.stats;
    this.thresholdPercent = options.thresholdPercent ?? DEFAULT_PANIC_THRESHOLD_PERCENT;
  }

  /** True while the last rebuild found too few healthy endpoints. */
  get inPanic(): boolean {
    return this.panic;
  }

  get picker(): Picker {
    return this.child.picker;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.stats.sync(endpoints);
    this.rebuild(endpoints);
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    const healthy = healthyOf(this.stats, endpoints);
    const count = healthy?.length ?? endpoints.length;
    this.panic =
      endpoints.length > 0 &&
      this.thresholdPercent > 0 &&
      count * 100 < this.thresholdPercent * endpoints.length;
    this.child.rebuild(this.panic || healthy === undefined ? endpoints : healthy);
  }

  onCallStart(endpoint: Endpoint): void {
    this.child.onCallStart(endpoint);
  }

  onCallEnd(endpoint: Endpoint, outcome: CallOutcome): void {
    this.child.onCallEnd(endpoint, outcome);
  }

  dispose(): void {
    this.child.dispose();
  }
}

/**
 * The endpoints not ejected, or undefined when that is all of them (no copy in the common
 * case). Stats are read off the store's own handles, and the store's stats list is walked
 * directly when `endpoints` is its handle list: no lookup by id.
 */
export function healthyOf(store: EndpointStatsStore, endpoints: readonly Endpoint[]): Endpoint[] | undefined {
  if (store.ejectedCount === 0) return undefined;
  const own = endpoints === store.handles ? store.statsList : undefined;
  let healthy: Endpoint[] | undefined;
  for (let i = 0; i < endpoints.length; i++) {
    const ep = endpoints[i]!;
    const s: EndpointStats | undefined =
      own !== undefined ? own[i] : (store.ownStats(ep) ?? store.get(ep.id));
    if (s === undefined || !s.ejected) {
      healthy?.push(ep);
      continue;
    }
    healthy ??= endpoints.slice(0, i);
  }
  return healthy;
}
