import type { CallOutcome, Endpoint, PickContext, Picker } from '@meshless/core';
import type { EndpointStats, EndpointStatsStore } from './endpoint-stats.ts';
import type { StatefulBalancer } from './stateful-balancer.ts';

/**
 * Avoids endpoints whose breaker is open, as OutlierEjection avoids ejected ones: the breaker
 * side marks an endpoint unavailable through its handle (`markUnavailable(untilMs)`, with the
 * time its breaker lets a probe through), and this layer passes the child only the available
 * endpoints, while at least one remains (when all are marked, all are passed: the breakers then
 * turn the calls away themselves). Status changes rebuild the child's picker at once; a marked
 * endpoint comes back when its time passes, checked lazily on pick only while some endpoint is
 * marked. With none marked, `picker` is the child's own picker: a pick costs nothing more.
 *
 * No breaker type is known here (capability packages do not import each other): the status is
 * a time on the endpoint's stats, set through EndpointHandle.
 */
export class BreakerAware implements StatefulBalancer {
  readonly stats: EndpointStatsStore;
  private readonly child: StatefulBalancer;
  private readonly now: () => number;
  private endpoints: readonly Endpoint[] = [];
  private nextReturnAt = Number.POSITIVE_INFINITY;
  /** Some endpoint is avoided until a known time: picks go through `returningPicker`. */
  private returning = false;
  private readonly returningPicker: Picker;

  constructor(child: StatefulBalancer) {
    this.child = child;
    this.stats = child.stats;
    this.now = child.stats.now;
    // One prepared picker while some endpoint is marked: checks the clock, then delegates.
    this.returningPicker = {
      pick: (ctx?: PickContext) => {
        if (this.now() >= this.nextReturnAt) this.apply();
        return this.child.picker.pick(ctx);
      },
    };
    this.stats.availability = this.changed;
  }

  get healthAware(): boolean {
    return this.child.healthAware === true;
  }

  get picker(): Picker {
    // The child's picker is read each time: the layers below rebuild on their own (ejections).
    return this.returning ? this.returningPicker : this.child.picker;
  }

  /** Ids of the endpoints avoided now (marked and not yet due back). */
  get unavailableIds(): string[] {
    const now = this.now();
    const ids: string[] = [];
    for (const ep of this.endpoints) {
      const s = this.stats.get(ep.id);
      if (s !== undefined && isAvoided(s, now)) ids.push(ep.id);
    }
    return ids;
  }

  update(endpoints: readonly Endpoint[]): void {
    // The layers below get handles, so pickers return them as they are.
    this.rebuild(this.stats.sync(endpoints));
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    // The store's own handle list (what update() passes) needs no lookup per endpoint.
    this.endpoints =
      endpoints === this.stats.handles ? endpoints : endpoints.map((ep) => this.stats.handleFor(ep));
    this.apply();
  }

  onCallStart(endpoint: Endpoint): void {
    this.child.onCallStart(endpoint);
  }

  onCallEnd(endpoint: Endpoint, outcome: CallOutcome): void {
    this.child.onCallEnd(endpoint, outcome);
  }

  dispose(): void {
    if (this.stats.availability === this.changed) this.stats.availability = undefined;
    this.child.dispose();
  }

  private readonly changed = (_stats: EndpointStats): void => {
    this.apply();
  };

  private apply(): void {
    const all = this.endpoints;
    if (this.stats.markedCount === 0) {
      // Nobody marked: nothing to filter (the common case; no walk over the endpoints).
      this.nextReturnAt = Number.POSITIVE_INFINITY;
      this.returning = false;
      this.child.rebuild(all);
      return;
    }
    const now = this.now();
    let available: Endpoint[] | undefined;
    let nextReturnAt = Number.POSITIVE_INFINITY;
    for (let i = 0; i < all.length; i++) {
      const ep = all[i]!;
      const s = statsOf(this.stats, ep);
      if (s === undefined || !isAvoided(s, now)) {
        available?.push(ep);
        continue;
      }
      // The first avoided endpoint: copy the ones before it.
      available ??= all.slice(0, i);
      if (s.unavailableUntil < nextReturnAt) nextReturnAt = s.unavailableUntil;
    }
    this.nextReturnAt = nextReturnAt;
    this.child.rebuild(available === undefined || available.length === 0 ? all : available);
    this.returning = nextReturnAt !== Number.POSITIVE_INFINITY;
  }
}

/** The stats of an endpoint in `store`: read off its handle when it is the store's own. */
function statsOf(store: EndpointStatsStore, ep: Endpoint): EndpointStats | undefined {
  return store.ownStats(ep) ?? store.get(ep.id);
}

function isAvoided(s: EndpointStats, now: number): boolean {
  return s.unavailableUntil !== 0 && now < s.unavailableUntil;
}
