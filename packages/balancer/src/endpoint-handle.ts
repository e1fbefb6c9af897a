import type { CallFailure, Endpoint } from '@meshless/core';
import type { EndpointStats, EndpointStatsStore } from './endpoint-stats.ts';

/**
 * A layer of a balancer stack that learns from the outcomes reported through handles
 * (OutlierEjection). The store holds one; handles call it after updating the stats. Only ends
 * are reported: a start changes nothing a layer judges, and not reading the clock there saves
 * a third of the bookkeeping (performance.now() costs about 40-50 ns).
 */
export interface EndpointFeedback {
  /** A call ended; `stats` already holds its outcome; `now` is the clock time it was recorded at. */
  callEnded(stats: EndpointStats, ok: boolean, now: number): void;
}

/**
 * The endpoint a balancer stack's picker returns (grpc-js's PickResult with onCallStarted and
 * onCallEnded, Finagle's node status): an Endpoint (its fields read through to the Endpoint it was
 * built from; serialised and inspected as that Endpoint) prepared once per membership change
 * that carries its own feedback. `started()` and `ended()` update this endpoint's stats
 * through a direct reference (no lookup by id, no outcome object) and inform the layer that
 * learns from outcomes. It also carries what the caller attaches to the endpoint (its breaker)
 * and its availability, which breaker-aware picking reads.
 *
 * A handle stays valid after the endpoint leaves: its reports are then ignored.
 */
export class EndpointHandle<B = unknown> implements Endpoint {
  // Only references: the Endpoint fields are read through (getters below), so a handle costs
  // three slots per endpoint, not a copy of the endpoint (~180 bytes each at 10 000 endpoints).
  readonly #endpoint: Endpoint;
  readonly #stats: EndpointStats;
  readonly #store: EndpointStatsStore;

  /** @internal Built by EndpointStatsStore on membership change. */
  constructor(endpoint: Endpoint, stats: EndpointStats, store: EndpointStatsStore) {
    this.#endpoint = endpoint;
    this.#stats = stats;
    this.#store = store;
  }

  get id(): string {
    return this.#endpoint.id;
  }
  get service(): string {
    return this.#endpoint.service;
  }
  get address(): string {
    return this.#endpoint.address;
  }
  get port(): number {
    return this.#endpoint.port;
  }
  get tags(): readonly string[] {
    return this.#endpoint.tags;
  }
  get meta(): Readonly<Record<string, string>> {
    return this.#endpoint.meta;
  }
  get weight(): number {
    return this.#endpoint.weight;
  }
  get zone(): string | undefined {
    return this.#endpoint.zone;
  }
  get region(): string | undefined {
    return this.#endpoint.region;
  }
  get datacenter(): string | undefined {
    return this.#endpoint.datacenter;
  }
  get mtls(): boolean | undefined {
    return this.#endpoint.mtls;
  }

  /** Serialised and inspected as its Endpoint (a log line or a hook sees the endpoint's fields). */
  toJSON(): Endpoint {
    return this.#endpoint;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): Endpoint {
    return this.#endpoint;
  }

  /** The Endpoint this handle was built from (as discovery gave it). */
  get endpoint(): Endpoint {
    return this.#endpoint;
  }

  /** @internal Whether `store` built this handle (its stats can be read off it). */
  belongsTo(store: EndpointStatsStore): boolean {
    return this.#store === store;
  }

  /** The stats this handle reports to. */
  get stats(): EndpointStats {
    return this.#stats;
  }

  /** A call to this endpoint starts (the pending count least-request and peak-EWMA read). */
  started(): void {
    const s = this.#stats;
    if (s.live) s.pending++;
  }

  /**
   * The call ended. `ok` is false for connect errors, timeouts and 5xx; `status` is the HTTP
   * status when one came back; `failure` says why no answer came (see CallOutcome.failure).
   * `now`: the end time, when the caller read the store's clock for the latency anyway (one
   * clock read less, ~45 ns here); default: the store's clock.
   */
  ended(latencyMs: number, ok: boolean, status?: number, failure?: CallFailure, now?: number): void {
    const s = this.#stats;
    if (!s.live) return;
    const store = this.#store;
    now ??= store.now();
    s.record(latencyMs, ok, status, failure, now, store.decayMs);
    const feedback = store.feedback;
    if (feedback !== undefined) feedback.callEnded(s, ok, now);
  }

  /**
   * What the caller attached to this endpoint, typically its circuit breaker; kept with the
   * endpoint's stats, so it survives handle rebuilds and rule changes while the id is known.
   */
  get breaker(): B | undefined {
    return this.#stats.breaker as B | undefined;
  }

  set breaker(breaker: B | undefined) {
    this.#stats.breaker = breaker;
  }

  /** False while pickers avoid this endpoint (see markUnavailable); reads the store's clock. */
  get available(): boolean {
    const until = this.#stats.unavailableUntil;
    return until === 0 || this.#store.now() >= until;
  }

  /**
   * Pickers avoid this endpoint while others remain, until clock time `untilMs` (the store's
   * clock; default: until `markAvailable()`). What an open breaker reports, with the time it
   * lets a probe through. Applied at once (the stack rebuilds its picker), never per pick.
   */
  markUnavailable(untilMs: number = Number.POSITIVE_INFINITY): void {
    // 0 means "available": an `untilMs` of 0 or less (or NaN) is in the past anyway.
    this.#store.setUnavailableUntil(this.#stats, Math.max(untilMs, 0) || 0);
  }

  /** Ends a `markUnavailable()` early (the breaker closed or lets probes through). */
  markAvailable(): void {
    this.#store.setUnavailableUntil(this.#stats, 0);
  }
}
