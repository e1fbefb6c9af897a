import type { CallFailure, Endpoint } from '@meshless/core';
import type { EndpointHandle } from './endpoint-handle.ts';

// What a balancer stack knows about one endpoint; the store of them is in endpoint-stats.ts.

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
