import type { CallFailure, CallOutcome, Endpoint } from '@meshless/core';
import { systemClock } from '@meshless/core';
import { type EndpointFeedback, EndpointHandle } from './endpoint-handle.ts';

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
  private known: readonly Endpoint[] = [];
  private knownHandles: readonly EndpointHandle[] = [];
  private synced = false;

  constructor(options: EndpointStatsStoreOptions = {}) {
    this.now = options.now ?? systemClock.now;
    this.decayMs = options.decayMs ?? DEFAULT_DECAY_MS;
  }

  get size(): number {
    return this.byId.size;
  }

  /** The membership of the last `sync()`: every known endpoint, ejected or not. */
  get endpoints(): readonly Endpoint[] {
    return this.known;
  }

  /** The handles of the last `sync()`, in its order. */
  get handles(): readonly EndpointHandle[] {
    return this.knownHandles;
  }

  get(id: string): EndpointStats | undefined {
    return this.byId.get(id);
  }

  /** The handle of a known endpoint id (for status updates off the call path, e.g. a breaker's state change). */
  handleOf(id: string): EndpointHandle | undefined {
    return this.byId.get(id)?.handle;
  }

  /** The stats of `endpoint`, created if this id is new (for layers fed outside `sync`). */
  ensure(endpoint: Endpoint): EndpointStats {
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
    if (stats.live) this.availability?.(stats);
  }

  private create(endpoint: Endpoint, now: number, initial: boolean): EndpointStats {
    const s = new EndpointStats(endpoint, now, initial);
    s.handle = new EndpointHandle(endpoint, s, this);
    return s;
  }

  values(): IterableIterator<EndpointStats> {
    return this.byId.values();
  }

  /**
   * Sets the known membership: keeps stats of ids still present, drops the others. Returns the
   * handles of `endpoints`, in order (a handle is kept while its Endpoint object is unchanged).
   */
  sync(endpoints: readonly Endpoint[]): readonly EndpointHandle[] {
    const now = this.now();
    const initial = !this.synced;
    const seen = new Set<string>();
    const raw: Endpoint[] = new Array(endpoints.length);
    const handles: EndpointHandle[] = new Array(endpoints.length);
    for (let i = 0; i < endpoints.length; i++) {
      const ep = rawOf(endpoints[i]!);
      raw[i] = ep;
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
    }
    if (seen.size !== this.byId.size) {
      for (const [id, s] of this.byId) {
        if (seen.has(id)) continue;
        s.live = false;
        this.byId.delete(id);
      }
    }
    this.known = raw;
    this.knownHandles = handles;
    this.synced = true;
    return handles;
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
      s.ejectedUntil = 0;
      s.ejectionReason = undefined;
      s.consecutiveErrors = 0;
      s.consecutiveConnectErrors = 0;
    }
  }

  /** Forgets slow-start ramps (a new rule without slow start uses full weights). */
  resetWeightScales(): void {
    for (const s of this.byId.values()) s.weightScale = 1;
  }
}

/** The Endpoint behind a handle (handles are passed back in by layers and by `rebuildBalancer`). */
function rawOf(endpoint: Endpoint): Endpoint {
  return endpoint instanceof EndpointHandle ? endpoint.endpoint : endpoint;
}
