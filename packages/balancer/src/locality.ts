import type { CallOutcome, Endpoint, PickContext, Picker, Random } from '@meshless/core';
import { nullRecord, systemRandom } from '@meshless/core';
import type { EndpointStatsStore } from './endpoint-stats.ts';
import { emptyPicker, hasExclusions, type StatefulBalancer } from './stateful-balancer.ts';
import { ZoneIndex } from './zone-index.ts';

export interface LocalityOptions {
  /** The caller's zone; without it the wrapper balances over everything. */
  localZone?: string;
  /** The caller's region; spill-over stays inside it while it has healthy endpoints. */
  localRegion?: string;
  /**
   * Locality applies while at least this percent of the known endpoints are healthy (passed
   * down, i.e. not ejected); below it, traffic spreads over all healthy endpoints. Default 70.
   */
  minHealthyPercent?: number;
  random?: Random;
}

export const DEFAULT_MIN_HEALTHY_PERCENT = 70;

/** How traffic is split now. Percentages sum to 100. */
export interface LocalityPlan {
  /**
   * `local`: all in the local zone; `spill`: local zone plus spill-over to other zones of the
   * region; `region`: the local zone has no healthy endpoint, so the whole region;
   * `all`: no locality (no local zone, too few healthy endpoints, or none in the region).
   */
  readonly mode: 'local' | 'spill' | 'region' | 'all';
  readonly localPercent: number;
  /** Share of traffic per other zone when spilling over. */
  readonly spillPercent: Readonly<Record<string, number>>;
}

export type BalancerFactory = (stats: EndpointStatsStore) => StatefulBalancer;

/**
 * Envoy's zone-aware routing. Callers are assumed to be spread over zones like the known
 * endpoints are (Envoy reads the caller's own cluster instead), so a zone "needs" its share of
 * the known endpoints. While the local zone's share of the healthy endpoints covers that need,
 * everything stays local; below it, `healthyShare / need` stays local and the rest spills to
 * the other zones of the region in proportion to their surplus (healthy share - need).
 * With no healthy local endpoint: the region; with none there either: anywhere.
 * One child balancer per target (built by `factory`) so each keeps its own picker state.
 */
export class LocalityAware implements StatefulBalancer {
  readonly stats: EndpointStatsStore;
  private readonly factory: BalancerFactory;
  private readonly localZone: string | undefined;
  private readonly localRegion: string | undefined;
  private readonly minHealthyPercent: number;
  private readonly random: Random;
  private readonly children = new Map<string, StatefulBalancer>();
  private readonly index: ZoneIndex;
  private readonly all: StatefulBalancer;
  private current: Picker = emptyPicker;
  private currentPlan: LocalityPlan = { mode: 'all', localPercent: 0, spillPercent: {} };

  constructor(factory: BalancerFactory, stats: EndpointStatsStore, options: LocalityOptions = {}) {
    this.factory = factory;
    this.stats = stats;
    this.localZone = options.localZone;
    this.localRegion = options.localRegion;
    this.minHealthyPercent = options.minHealthyPercent ?? DEFAULT_MIN_HEALTHY_PERCENT;
    this.random = options.random ?? systemRandom;
    this.all = factory(stats);
    this.index = new ZoneIndex(this.localRegion, stats.incremental);
  }

  get picker(): Picker {
    return this.current;
  }

  get plan(): LocalityPlan {
    return this.currentPlan;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.stats.sync(endpoints);
    this.rebuild(endpoints);
  }

  rebuild(healthy: readonly Endpoint[]): void {
    this.all.rebuild(healthy);
    const used = new Set<string>();
    const plan = this.computePlan(healthy);
    this.currentPlan = plan.plan;
    if (plan.plan.mode === 'all') this.current = this.all.picker;
    else {
      const targets = plan.targets.map(([key, list]) => {
        used.add(key);
        const child = this.child(key);
        child.rebuild(list);
        return child.picker;
      });
      const shares = plan.targets.map(([key]) => plan.shares.get(key)!);
      this.current = new LocalityPicker(targets, shares, this.all.picker, this.random);
    }
    for (const [key, child] of this.children) {
      if (!used.has(key)) {
        child.dispose();
        this.children.delete(key);
      }
    }
  }

  onCallStart(endpoint: Endpoint): void {
    // Children share the stats store, so one of them records for all.
    this.all.onCallStart(endpoint);
  }

  onCallEnd(endpoint: Endpoint, outcome: CallOutcome): void {
    this.all.onCallEnd(endpoint, outcome);
  }

  dispose(): void {
    for (const child of this.children.values()) child.dispose();
    this.children.clear();
    this.all.dispose();
    this.current = emptyPicker;
  }

  private readonly changeSince = (list: readonly Endpoint[]) => this.stats.changeSince(list);

  private child(key: string): StatefulBalancer {
    let child = this.children.get(key);
    if (child === undefined) {
      child = this.factory(this.stats);
      this.children.set(key, child);
    }
    return child;
  }

  private computePlan(healthy: readonly Endpoint[]): {
    plan: LocalityPlan;
    targets: [string, readonly Endpoint[]][];
    shares: Map<string, number>;
  } {
    const none = {
      plan: { mode: 'all', localPercent: 0, spillPercent: {} } as LocalityPlan,
      targets: [],
      shares: new Map(),
    };
    const local = this.localZone;
    // The known membership as the store's handles (no raw copy needed; same ids and zones).
    const known = this.stats.handles;
    if (local === undefined || healthy.length === 0) return none;
    if (healthy.length * 100 < this.minHealthyPercent * known.length) return none;
    // Grouped by zone incrementally: a one-endpoint change costs a patch, not a regroup.
    const index = this.index;
    index.setHealthy(healthy, this.changeSince);
    index.setKnown(known, this.changeSince);
    const byZone = index.zones;
    const scopeHealthy = index.healthyInScope;
    const localHealthy = byZone.get(local);
    if (localHealthy === undefined) {
      if (scopeHealthy === 0) return none;
      return {
        plan: { mode: 'region', localPercent: 0, spillPercent: {} },
        targets: [['region', index.scopeHealthy()]],
        shares: new Map([['region', 1]]),
      };
    }
    const need = (z: string) => index.knownIn(z) / Math.max(1, index.knownInScope);
    const have = (z: string) => (byZone.get(z)?.length ?? 0) / scopeHealthy;
    const localKey = `zone:${local}`;
    if (have(local) >= need(local) || byZone.size === 1) {
      return {
        plan: { mode: 'local', localPercent: 100, spillPercent: {} },
        targets: [[localKey, localHealthy]],
        shares: new Map([[localKey, 1]]),
      };
    }
    const localShare = have(local) / need(local);
    const surplus = new Map<string, number>();
    let surplusTotal = 0;
    for (const z of byZone.keys()) {
      if (z === local) continue;
      const s = Math.max(0, have(z) - need(z));
      surplus.set(z, s);
      surplusTotal += s;
    }
    // No zone has a surplus (rounding, or zones absent from `known`): spill by healthy count.
    const spillWeight = (z: string) =>
      surplusTotal > 0 ? surplus.get(z)! / surplusTotal : have(z) / (1 - have(local));
    const targets: [string, readonly Endpoint[]][] = [[localKey, localHealthy]];
    const shares = new Map([[localKey, localShare]]);
    // Zone names come from endpoint meta: any name, `__proto__` too, is an own key.
    const spillPercent = nullRecord<number>();
    for (const z of surplus.keys()) {
      const share = (1 - localShare) * spillWeight(z);
      if (share <= 0) continue;
      targets.push([`zone:${z}`, byZone.get(z)!]);
      shares.set(`zone:${z}`, share);
      spillPercent[z] = share * 100;
    }
    return { plan: { mode: 'spill', localPercent: localShare * 100, spillPercent }, targets, shares };
  }
}

/** Chooses a target by share, then asks its picker; falls back to all healthy endpoints on exclusion. */
class LocalityPicker implements Picker {
  private readonly targets: readonly Picker[];
  private readonly cumulative: Float64Array;
  private readonly fallback: Picker;
  private readonly random: Random;

  constructor(targets: readonly Picker[], shares: readonly number[], fallback: Picker, random: Random) {
    this.targets = targets;
    this.fallback = fallback;
    this.random = random;
    this.cumulative = new Float64Array(shares.length);
    let acc = 0;
    for (let i = 0; i < shares.length; i++) {
      acc += shares[i]!;
      this.cumulative[i] = acc;
    }
  }

  pick(ctx?: PickContext): Endpoint | undefined {
    const targets = this.targets;
    let i = 0;
    if (targets.length > 1) {
      const r = this.random() * this.cumulative[targets.length - 1]!;
      while (i < targets.length - 1 && this.cumulative[i]! <= r) i++;
    }
    const ep = targets[i]!.pick(ctx);
    const exclude = ctx?.exclude;
    if (ep !== undefined && hasExclusions(exclude) && exclude.has(ep.id))
      return this.fallback.pick(ctx) ?? ep;
    return ep;
  }
}
