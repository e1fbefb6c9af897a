import type { CallOutcome, Endpoint } from '@meshless/core';
import { systemClock } from '@meshless/core';
import { type EndpointFeedback, EndpointHandle } from './endpoint-handle.ts';
import { DEFAULT_DECAY_MS, EndpointStats } from './endpoint-stat.ts';
import { assemble, mergeWalk } from './membership-merge.ts';
import type { SortedDiff } from './sorted-diff.ts';

export * from './endpoint-stat.ts';

export interface EndpointStatsStoreOptions {
  /** Monotonic milliseconds. Default: `systemClock.now`. */
  now?: () => number;
  /** EWMA time constant. Default 10 000 ms. */
  decayMs?: number;
  /**
   * Update incrementally (default true): a list sorted by id is merged against the last one and
   * layers patch what they derived from it. False: every update takes the general path and
   * layers recompute from scratch (the reference the incremental paths are tested against).
   */
  incremental?: boolean;
}

/**
 * Per-endpoint stats keyed by endpoint id: the state a balancer stack shares between its
 * layers and hands to the next stack on a rule change (`createBalancer(rule, { stats })`).
 */
export class EndpointStatsStore {
  readonly now: () => number;
  readonly decayMs: number;
  /**
   * The layer that learns from outcomes reported through handles (OutlierEjection registers
   * itself); undefined: none. One per store: the stack that uses the store now.
   */
  feedback: EndpointFeedback | undefined = undefined;
  /** Told when an endpoint's availability (breaker status) changes (BreakerAware registers itself). */
  availability: ((stats: EndpointStats) => void) | undefined = undefined;
  private readonly byId = new Map<string, EndpointStats>();
  /** The membership as given (raw Endpoints): built on demand from the stats on the merge path. */
  private known: readonly Endpoint[] | undefined = [];
  private knownHandles: readonly EndpointHandle[] = [];
  private knownStats: readonly EndpointStats[] = [];
  /** `known` is sorted by id without repeats: the next sync may merge against it. */
  private knownSorted = true;
  private synced = false;
  /** Live stats whose unavailableUntil is set (BreakerAware walks the list only while any are). */
  private readonly marked = new Set<EndpointStats>();
  /** Live stats that joined after the first membership and may still ramp (see `joined`). */
  private readonly joinedSet = new Set<EndpointStats>();
  /** The last merge's change: from which lists (weakly held), and what left and came. */
  private lastChange:
    | {
        from: WeakRef<readonly Endpoint[]> | undefined;
        fromHandles: WeakRef<readonly EndpointHandle[]>;
        removed: Endpoint[];
        added: Endpoint[];
        removedHandles: EndpointHandle[];
        addedHandles: EndpointHandle[];
      }
    | undefined = undefined;
  /** Live stats ejected now (layers skip their walk for ejected endpoints while there are none). */
  private ejected = 0;
  /** Known endpoints whose weight is not `baseWeight` (0: every weight is the same). */
  private offWeight = 0;
  private baseWeight = 1;
  /**
   * Some stats may hold a slow-start scale below 1 (SlowStart sets it while it ramps); false:
   * every scale is 1, so effective weights are the endpoint weights.
   */
  scalesInUse = false;

  /** See EndpointStatsStoreOptions.incremental. */
  readonly incremental: boolean;

  constructor(options: EndpointStatsStoreOptions = {}) {
    this.now = options.now ?? systemClock.now;
    this.decayMs = options.decayMs ?? DEFAULT_DECAY_MS;
    this.incremental = options.incremental ?? true;
  }

  get size(): number {
    return this.byId.size;
  }

  /** The membership of the last `sync()`: every known endpoint, ejected or not. */
  get endpoints(): readonly Endpoint[] {
    this.known ??= this.knownStats.map((s) => s.endpoint);
    return this.known;
  }

  /** The handles of the last `sync()`, in its order. */
  get handles(): readonly EndpointHandle[] {
    return this.knownHandles;
  }

  /** The stats of the last `sync()`, in its order (parallel to `handles`). */
  get statsList(): readonly EndpointStats[] {
    return this.knownStats;
  }

  /**
   * Live stats that joined after the first membership and have not finished a slow-start ramp
   * (SlowStart walks these, not the whole membership, and removes those done ramping).
   */
  get joined(): Set<EndpointStats> {
    return this.joinedSet;
  }

  /**
   * What the last sync changed, when `list` is the membership (`endpoints`) or the handle
   * list (`handles`) it started from and it took the merge path: endpoints or handles that
   * left and came (a changed endpoint is both), both sorted by id. Undefined otherwise.
   * Layers that keep lists derived from the membership patch them with it instead of diffing.
   */
  changeSince(list: readonly Endpoint[]): SortedDiff<Endpoint> | undefined {
    const c = this.lastChange;
    if (c === undefined) return undefined;
    if (c.from?.deref() === list) return { removed: c.removed, added: c.added };
    if (c.fromHandles.deref() === list) return { removed: c.removedHandles, added: c.addedHandles };
    return undefined;
  }

  /** How many endpoints are ejected now. */
  get ejectedCount(): number {
    return this.ejected;
  }

  /** Ejects `s` until clock time `until` (never 0) for `reason`. */
  setEjected(s: EndpointStats, until: number, reason: string): void {
    if (!s.ejected && s.live) this.ejected++;
    s.ejectedUntil = until;
    s.ejectionReason = reason;
  }

  /** Ends the ejection of `s` (no-op when it is not ejected). */
  clearEjection(s: EndpointStats): void {
    if (s.ejected && s.live) this.ejected--;
    s.ejectedUntil = 0;
    s.ejectionReason = undefined;
  }

  /**
   * The effective weight every endpoint of this store has, when they all have the same one
   * (one endpoint weight, no slow-start scale in use, no stats outside the membership); else
   * undefined. Pickers then skip the per-endpoint weights (and need no alias table).
   */
  get uniformWeight(): number | undefined {
    if (this.offWeight !== 0 || this.scalesInUse || this.byId.size !== this.knownStats.length)
      return undefined;
    return Math.max(this.baseWeight, 0);
  }

  /** How many known endpoints are marked unavailable (possibly already due back). */
  get markedCount(): number {
    return this.marked.size;
  }

  get(id: string): EndpointStats | undefined {
    return this.byId.get(id);
  }

  /** The handle of a known endpoint id (for status updates off the call path, e.g. a breaker's state change). */
  handleOf(id: string): EndpointHandle | undefined {
    return this.byId.get(id)?.handle;
  }

  /**
   * The stats behind `endpoint` when it is a live handle of this store (read off the handle:
   * no lookup by id), else undefined.
   */
  ownStats(endpoint: Endpoint): EndpointStats | undefined {
    if (!(endpoint instanceof EndpointHandle) || !endpoint.belongsTo(this)) return undefined;
    const s = endpoint.stats;
    return s.live ? s : undefined;
  }

  /** The stats of `endpoint`, created if this id is new (for layers fed outside `sync`). */
  ensure(endpoint: Endpoint): EndpointStats {
    const own = this.ownStats(endpoint);
    if (own !== undefined) return own;
    let s = this.byId.get(endpoint.id);
    if (s === undefined) {
      s = this.create(rawOf(endpoint), this.now(), !this.synced);
      this.byId.set(endpoint.id, s);
    }
    return s;
  }

  /** This store's handle for `endpoint` (an Endpoint or a handle), created if the id is new. */
  handleFor(endpoint: Endpoint): EndpointHandle {
    return this.ensure(endpoint).handle;
  }

  /** Sets an endpoint's availability (see EndpointStats.unavailableUntil) and tells the stack. */
  setUnavailableUntil(stats: EndpointStats, untilMs: number): void {
    if (stats.unavailableUntil === untilMs) return;
    stats.unavailableUntil = untilMs;
    if (!stats.live) return;
    if (untilMs === 0) this.marked.delete(stats);
    else this.marked.add(stats);
    this.availability?.(stats);
  }

  private create(endpoint: Endpoint, now: number, initial: boolean): EndpointStats {
    const s = new EndpointStats(endpoint, now, initial);
    if (!initial) this.joinedSet.add(s);
    s.handle = new EndpointHandle(endpoint, s, this);
    return s;
  }

  values(): IterableIterator<EndpointStats> {
    return this.byId.values();
  }

  /**
   * Sets the known membership: keeps stats of ids still present, drops the others. Returns the
   * handles of `endpoints`, in order (a handle is kept while its Endpoint object is unchanged).
   * A list sorted by id, like the last one, is merged against it by reference (the cost is in
   * the endpoints that changed, not a Map lookup per endpoint); any other list takes the
   * general path.
   */
  sync(endpoints: readonly Endpoint[]): readonly EndpointHandle[] {
    if (!this.synced || !this.incremental || !this.knownSorted || !this.mergeSync(endpoints))
      this.fullSync(endpoints);
    this.synced = true;
    return this.knownHandles;
  }

  /** The general path: a lookup per endpoint, whatever the order (ids may repeat). */
  private fullSync(endpoints: readonly Endpoint[]): void {
    this.lastChange = undefined;
    const now = this.now();
    const initial = !this.synced;
    const seen = new Set<string>();
    const n = endpoints.length;
    const raw: Endpoint[] = new Array(n);
    const handles: EndpointHandle[] = new Array(n);
    const stats: EndpointStats[] = new Array(n);
    let sorted = true;
    const base = n > 0 ? rawOf(endpoints[0]!).weight : 1;
    let offWeight = 0;
    for (let i = 0; i < n; i++) {
      const ep = rawOf(endpoints[i]!);
      raw[i] = ep;
      if (ep.weight !== base) offWeight++;
      if (i > 0 && !(raw[i - 1]!.id < ep.id)) sorted = false;
      seen.add(ep.id);
      let s = this.byId.get(ep.id);
      if (s === undefined) {
        s = this.create(ep, now, initial);
        this.byId.set(ep.id, s);
      } else if (s.endpoint !== ep) {
        s.endpoint = ep;
        s.handle = new EndpointHandle(ep, s, this);
      }
      handles[i] = s.handle;
      stats[i] = s;
    }
    if (seen.size !== this.byId.size) {
      for (const [id, s] of this.byId) {
        if (!seen.has(id)) this.drop(s);
      }
    }
    this.known = raw;
    this.knownHandles = handles;
    this.knownStats = stats;
    this.knownSorted = sorted;
    this.baseWeight = base;
    this.offWeight = offWeight;
  }

  /**
   * The merge path: `endpoints` and the last membership both sorted by id. Runs of endpoints
   * that are the same objects as the last membership's (at the merge position) keep their
   * stats and handles, copied a run at a time; the rest are matched by id. Order is checked
   * only where a run starts or ends (inside a run it is the last list's order). Nothing
   * changes before the walk succeeds: an unsorted list or a repeated id returns false.
   */
  private mergeSync(endpoints: readonly Endpoint[]): boolean {
    const old = this.known; // undefined unless someone asked for it since the last sync
    const oldStats = this.knownStats;
    const m = oldStats.length;
    const n = endpoints.length;
    const walk = mergeWalk(endpoints, oldStats);
    if (walk === undefined) return false;
    const { runs, fresh, dropped, gone } = walk;
    // The walk held: apply it.
    for (const s of dropped) {
      if (s.endpoint.weight !== this.baseWeight) this.offWeight--;
      this.drop(s);
    }
    const now = fresh.length > 0 ? this.now() : 0;
    for (const f of fresh) {
      const ep = f.ep;
      let s = f.stats;
      if (s !== undefined && s.endpoint.weight !== this.baseWeight) this.offWeight--;
      s ??= this.byId.get(ep.id); // fed through ensure() before
      if (s === undefined) {
        s = this.create(ep, now, false);
        this.byId.set(ep.id, s);
      } else if (s.endpoint !== ep) {
        s.endpoint = ep;
        s.handle = new EndpointHandle(ep, s, this);
      }
      if (ep.weight !== this.baseWeight) this.offWeight++;
      f.stats = s;
    }
    const oldHandles = this.knownHandles;
    // The endpoints of the old stats, read before the changed ones are renewed below.
    const removed = gone.map((g) => oldHandles[g]!.endpoint);
    this.known = undefined;
    this.knownStats = assemble(n, m, runs, fresh, oldStats, (f) => f.stats!);
    this.knownHandles = assemble(n, m, runs, fresh, oldHandles, (f) => f.stats!.handle);
    this.knownSorted = true;
    this.lastChange = {
      from: old === undefined ? undefined : new WeakRef(old),
      fromHandles: new WeakRef(oldHandles),
      removed,
      added: fresh.map((f) => f.ep),
      removedHandles: gone.map((g) => oldHandles[g]!),
      addedHandles: fresh.map((f) => f.stats!.handle),
    };
    // Stats fed through ensure() and absent from this list are dropped too (as fullSync does).
    if (this.byId.size !== n) {
      const seen = new Set<EndpointStats>(this.knownStats);
      for (const s of this.byId.values()) if (!seen.has(s)) this.drop(s);
    }
    return true;
  }

  private drop(s: EndpointStats): void {
    if (s.ejected && s.live) this.ejected--;
    this.joinedSet.delete(s);
    s.live = false;
    this.marked.delete(s);
    this.byId.delete(s.endpoint.id);
  }

  callStarted(endpoint: Endpoint): void {
    const s = this.byId.get(endpoint.id);
    if (s !== undefined) s.pending++;
  }

  callEnded(endpoint: Endpoint, outcome: CallOutcome): void {
    // Calls to endpoints removed meanwhile are ignored: their stats are gone.
    const s = this.byId.get(endpoint.id);
    if (s === undefined) return;
    s.record(outcome.latencyMs, outcome.ok, outcome.status, outcome.failure, this.now(), this.decayMs);
  }

  /**
   * Forgets ejections (a new rule without outlier detection must not keep endpoints out),
   * except those for whose reason `keep` returns true (the checks the new rule still runs).
   */
  resetEjections(keep?: (reason: string | undefined) => boolean): void {
    for (const s of this.byId.values()) {
      if (keep !== undefined && s.ejected && keep(s.ejectionReason)) continue;
      this.clearEjection(s);
      s.consecutiveErrors = 0;
      s.consecutiveConnectErrors = 0;
    }
  }

  /** Forgets slow-start ramps (a new rule without slow start uses full weights). */
  resetWeightScales(): void {
    for (const s of this.byId.values()) s.weightScale = 1;
    this.scalesInUse = false;
  }
}

/** The Endpoint behind a handle (handles are passed back in by layers and by `rebuildBalancer`). */
function rawOf(endpoint: Endpoint): Endpoint {
  return endpoint instanceof EndpointHandle ? endpoint.endpoint : endpoint;
}
