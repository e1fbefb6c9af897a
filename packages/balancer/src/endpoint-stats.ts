import type { CallFailure, CallOutcome, Endpoint } from '@meshless/core';
import { systemClock } from '@meshless/core';
import { type EndpointFeedback, EndpointHandle } from './endpoint-handle.ts';
import type { SortedDiff } from './sorted-diff.ts';

/** Time constant of the latency EWMA (Finagle's default): an old sample weighs 1/e after 10 s. */
export const DEFAULT_DECAY_MS = 10_000;

/**
 * The failure penalty of the latency estimate: a failed call counts as at least this slow, so a
 * dead instance refusing connections in 0.1 ms never looks like the fastest endpoint.
 */
export const FAILURE_PENALTY_FLOOR_MS = 50;
/**
 * A connect error or a reset (no answer at all) is the surest sign of a dead instance: on top of
 * the latency estimate, it puts a penalty of this much on the endpoint, which must outweigh the
 * latency peaks of the live ones even on a loaded machine (a GC pause, a stalled event loop)...
 */
export const NO_ANSWER_PENALTY_MS = 10_000;
/**
 * ...and fades with this time constant, much faster than the estimate (10 s -> 1 s after about
 * 4.6 s, -> 50 ms after about 10.6 s): a dead instance is left alone until Consul's health check
 * drops it, a live one that dropped a connection is back in a few seconds. Any answer clears it.
 */
export const NO_ANSWER_PENALTY_DECAY_MS = 2000;
/** ...and as this many times the current estimate: failures in a row escalate geometrically. */
export const FAILURE_PENALTY_FACTOR = 4;
/** ...up to this (a slower observed failure, e.g. a timeout, still counts in full). */
export const FAILURE_PENALTY_MAX_MS = 10_000;

/**
 * What a balancer stack knows about one endpoint. Mutable on purpose: pickers are rebuilt on
 * membership changes, but these counters move on every call and are shared by every layer
 * (and by the next stack after a rule change), so they live outside the pickers.
 */
export class EndpointStats {
  /** The latest Endpoint object seen for this id. */
  endpoint: Endpoint;
  /** Clock time this id first appeared. */
  readonly firstSeen: number;
  /** Part of the store's first membership (slow start leaves those alone, as Envoy does). */
  readonly initial: boolean;
  /** Calls started and not yet ended. */
  pending = 0;
  /** Peak-EWMA latency in ms as of `ewmaAt`; 0 means no history. */
  ewmaMs = 0;
  ewmaAt = 0;
  /** No-answer penalty in ms as of `penaltyAt` (0: none), fading with NO_ANSWER_PENALTY_DECAY_MS. */
  penaltyMs = 0;
  penaltyAt = 0;
  successes = 0;
  failures = 0;
  consecutiveErrors = 0;
  /** Connect errors since the endpoint last answered (any HTTP status). */
  consecutiveConnectErrors = 0;
  /** Outcomes since the last outlier interval (success-rate detection). */
  intervalSuccesses = 0;
  intervalFailures = 0;
  /** How many times this endpoint was ejected (decays while it stays healthy). */
  ejections = 0;
  /** Clock time the current ejection ends; 0 while not ejected. */
  ejectedUntil = 0;
  /** Why the current ejection happened (an EjectionReason); undefined while not ejected. */
  ejectionReason: string | undefined = undefined;
  /** Clock time of the last return from ejection. */
  returnedAt = 0;
  /** Slow-start factor in (0, 1] applied to the endpoint's weight by weight-aware pickers. */
  weightScale = 1;
  /**
   * Clock time until which pickers avoid this endpoint (its breaker is open); 0: available,
   * Infinity: until told otherwise. Set through EndpointHandle.markUnavailable.
   */
  unavailableUntil = 0;
  /** What the caller attached to the endpoint (its breaker): see EndpointHandle.breaker. */
  breaker: unknown = undefined;
  /** False once the store dropped this id: late outcomes of its calls are ignored. */
  live = true;
  /** The prepared handle pickers of a stack return for this endpoint (rebuilt when the Endpoint object changes). */
  handle!: EndpointHandle;

  constructor(endpoint: Endpoint, firstSeen: number, initial: boolean) {
    this.endpoint = endpoint;
    this.firstSeen = firstSeen;
    this.initial = initial;
  }

  /** Records the end of a call: pending count, latency estimate, error counters. */
  record(
    latencyMs: number,
    ok: boolean,
    status: number | undefined,
    failure: CallFailure | undefined,
    now: number,
    decayMs: number,
  ): void {
    if (this.pending > 0) this.pending--;
    this.observeLatency(latencyMs, now, decayMs, ok, failure);
    if (ok) {
      this.successes++;
      this.intervalSuccesses++;
      this.consecutiveErrors = 0;
    } else {
      this.failures++;
      this.intervalFailures++;
      this.consecutiveErrors++;
    }
    // Any HTTP answer proves the endpoint reachable; a timeout or reset proves nothing either way.
    if (failure === 'connect') this.consecutiveConnectErrors++;
    else if (ok || status !== undefined) this.consecutiveConnectErrors = 0;
  }

  get ejected(): boolean {
    return this.ejectedUntil !== 0;
  }

  /** The latency estimate decayed to `now` (idle endpoints drift back toward "worth a try"), or the no-answer penalty while it is higher. */
  latencyAt(now: number, decayMs: number): number {
    const dt = now - this.ewmaAt;
    const latency = dt <= 0 ? this.ewmaMs : this.ewmaMs * Math.exp(-dt / decayMs);
    if (this.penaltyMs === 0) return latency;
    const penalty = this.penaltyMs * Math.exp(-(now - this.penaltyAt) / NO_ANSWER_PENALTY_DECAY_MS);
    return Math.max(penalty, latency);
  }

  /**
   * Peak-sensitive EWMA (Finagle/tower): a sample above the decayed estimate replaces it at
   * once; a lower one is blended in by the time elapsed since the last sample. A failure is a
   * peak of at least max(floor, factor x estimate), capped, or its observed time if longer (a
   * cancelled call gets none): a fast error must repel traffic, not attract it, and each one in
   * a row repels more than the last. No answer at all (a connect error, a reset) also sets the
   * no-answer penalty; an answer clears it.
   */
  observeLatency(ms: number, now: number, decayMs: number, ok: boolean, failure?: CallFailure): void {
    const dt = now - this.ewmaAt;
    const w = dt <= 0 ? 1 : Math.exp(-dt / decayMs);
    const decayed = this.ewmaMs * w;
    if (ok) {
      this.ewmaMs = ms > decayed ? ms : decayed + ms * (1 - w);
      this.penaltyMs = 0;
    } else if (failure === 'cancelled') {
      // Aborted by the caller or a winning hedge: a lower bound of its latency, no penalty.
      this.ewmaMs = Math.max(ms, decayed);
    } else {
      this.ewmaMs = Math.max(ms, decayed, failurePenaltyMs(decayed));
      if (failure === undefined)
        this.penaltyMs = 0; // an error status is an answer
      else {
        this.penaltyMs = NO_ANSWER_PENALTY_MS;
        this.penaltyAt = now;
      }
    }
    this.ewmaAt = now;
  }
}

/** The latency a failure counts as at least, given the decayed estimate. */
function failurePenaltyMs(estimateMs: number): number {
  return Math.min(
    FAILURE_PENALTY_MAX_MS,
    Math.max(FAILURE_PENALTY_FLOOR_MS, FAILURE_PENALTY_FACTOR * estimateMs),
  );
}

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
    // Unchanged runs as (start in endpoints, start in old, length) triples; the rest one by one.
    const runs: number[] = [];
    const fresh: Fresh[] = [];
    const dropped: EndpointStats[] = [];
    const gone: number[] = []; // positions in `old` of endpoints that left or changed
    let i = 0;
    let j = 0;
    let prevId = '';
    while (i < n) {
      const i0 = i;
      const j0 = j;
      // A stats' endpoint is the object the last sync gave for its id.
      while (i < n && j < m && endpoints[i] === oldStats[j]!.endpoint) {
        i++;
        j++;
      }
      if (i > i0) {
        if (i0 > 0 && !(prevId < oldStats[j0]!.endpoint.id)) return false;
        runs.push(i0, j0, i - i0);
        prevId = oldStats[j - 1]!.endpoint.id;
        if (i === n) break;
      }
      const given = endpoints[i]!;
      const ep = given instanceof EndpointHandle ? given.endpoint : given;
      const id = ep.id;
      if (i > 0 && !(prevId < id)) return false;
      prevId = id;
      if (j < m && oldStats[j]!.endpoint === ep) {
        runs.push(i++, j++, 1); // a handle passed back in for an unchanged endpoint
        continue;
      }
      while (j < m && oldStats[j]!.endpoint.id < id) {
        gone.push(j);
        dropped.push(oldStats[j++]!);
      }
      if (j < m && oldStats[j]!.endpoint === ep) {
        runs.push(i++, j++, 1); // unchanged, after some that left
        continue;
      }
      let known: EndpointStats | undefined;
      if (j < m && oldStats[j]!.endpoint.id === id) {
        gone.push(j);
        known = oldStats[j++]!;
      }
      fresh.push({ at: i++, ep, stats: known });
    }
    while (j < m) {
      gone.push(j);
      dropped.push(oldStats[j++]!);
    }
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

/** An endpoint of a merge not matched by reference: where it goes, and its stats once known. */
interface Fresh {
  readonly at: number;
  readonly ep: Endpoint;
  stats: EndpointStats | undefined;
}

/**
 * The new list of a merge: the unchanged runs copied from `source` a run at a time (slices,
 * joined by one concat: about memcpy speed), `freshValue` for the rest. Many pieces (a large
 * change) are written one by one instead.
 */
function assemble<T>(
  n: number,
  m: number,
  runs: readonly number[],
  fresh: readonly Fresh[],
  source: readonly T[],
  freshValue: (f: Fresh) => T,
): T[] {
  if (runs.length === 3 && fresh.length === 0) return source.slice(runs[1]!, runs[1]! + runs[2]!);
  let inPlace = n === m;
  for (let r = 0; inPlace && r < runs.length; r += 3) inPlace = runs[r] === runs[r + 1];
  if (inPlace) {
    // Same positions (endpoints changed, none came or left): one copy, then the changes.
    const out = source.slice();
    for (const f of fresh) out[f.at] = freshValue(f);
    return out;
  }
  const pieces = runs.length / 3 + fresh.length;
  if (pieces > 64) {
    const out: T[] = new Array(n);
    for (let r = 0; r < runs.length; r += 3) {
      const at = runs[r]!;
      const from = runs[r + 1]!;
      const len = runs[r + 2]!;
      for (let k = 0; k < len; k++) out[at + k] = source[from + k]!;
    }
    for (const f of fresh) out[f.at] = freshValue(f);
    return out;
  }
  const parts: (T[] | readonly T[])[] = [];
  let r = 0;
  let f = 0;
  while (r < runs.length || f < fresh.length) {
    if (f === fresh.length || (r < runs.length && runs[r]! < fresh[f]!.at)) {
      parts.push(source.slice(runs[r + 1]!, runs[r + 1]! + runs[r + 2]!));
      r += 3;
    } else parts.push([freshValue(fresh[f++]!)]);
  }
  return ([] as T[]).concat(...(parts as T[][]));
}

/** The Endpoint behind a handle (handles are passed back in by layers and by `rebuildBalancer`). */
function rawOf(endpoint: Endpoint): Endpoint {
  return endpoint instanceof EndpointHandle ? endpoint.endpoint : endpoint;
}
