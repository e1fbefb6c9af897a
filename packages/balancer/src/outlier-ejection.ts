import type { CallOutcome, Endpoint, Event, Picker } from '@meshless/core';
import { Emitter } from '@meshless/core';
import type { EndpointFeedback } from './endpoint-handle.ts';
import type { EndpointStats, EndpointStatsStore } from './endpoint-stats.ts';
import { healthyOf } from './panic-threshold.ts';
import type { StatefulBalancer } from './stateful-balancer.ts';

export interface SuccessRateOptions {
  /** Calls an endpoint needs in an interval to be judged. Default 100. */
  minRequests?: number;
  /** Ejected below mean - stdevFactor x stddev of the judged endpoints' success rates. Default 1.9. */
  stdevFactor?: number;
  /** Fewest judged endpoints for the statistics to mean anything. Default 5. */
  minEndpoints?: number;
}

export interface OutlierEjectionOptions {
  /** Monotonic milliseconds. Default: the stats store's clock. */
  now?: () => number;
  /** Failures in a row (5xx, timeouts, connect errors...) that eject an endpoint at once. 0 disables. Default 5. */
  consecutiveErrors?: number;
  /**
   * Connect errors in a row (refused, unreachable, connect timeout; any HTTP answer breaks the
   * run) that eject an endpoint at once: the sign of a dead instance. 0 disables. Default 3.
   */
  consecutiveConnectErrors?: number;
  /** How often success rates are judged and ejection counts decay. Default 10 000 ms. */
  intervalMs?: number;
  /** First ejection length; the n-th lasts n times as long. Default 30 000 ms. */
  baseEjectionMs?: number;
  /** Cap on one ejection's length. Default 300 000 ms. */
  maxEjectionMs?: number;
  /**
   * Most endpoints ejected at once, as a percent of the known ones, rounded down but at least
   * one when above 0 (so small clusters can still shed a bad endpoint). Default 10.
   */
  maxEjectionPercent?: number;
  /** Success-rate outlier detection (Envoy's); omitted: off. */
  successRate?: SuccessRateOptions;
}

export type EjectionReason = 'consecutive-errors' | 'connect-errors' | 'success-rate';

export interface EjectionEvent {
  readonly endpoint: Endpoint;
  readonly reason: EjectionReason;
  /** Ejections of this endpoint so far, this one included. */
  readonly ejections: number;
  readonly durationMs: number;
  /** Clock time the endpoint returns. */
  readonly until: number;
}

/** Default of `consecutiveConnectErrors`. */
export const DEFAULT_CONSECUTIVE_CONNECT_ERRORS = 3;

/**
 * Envoy-style outlier detection as a wrapper: `consecutiveErrors` failures in a row, or
 * `consecutiveConnectErrors` connect errors in a row (Envoy's local-origin failures), eject an
 * endpoint immediately; every `intervalMs`, endpoints whose success rate falls below
 * mean - 1.9 stddev are ejected too. An ejection lasts base x n (capped) and ends when the
 * clock passes it; expiry and intervals are checked lazily on call start and end, so there
 * are no timers at all. The child balances over the rest (or over everything, if it is
 * health-aware like PanicThreshold). It registers as its store's feedback, so outcomes reported
 * through EndpointHandles reach it too.
 */
export class OutlierEjection implements StatefulBalancer, EndpointFeedback {
  readonly healthAware = true;
  readonly stats: EndpointStatsStore;
  private readonly child: StatefulBalancer;
  private readonly now: () => number;
  private readonly consecutiveErrors: number;
  private readonly consecutiveConnectErrors: number;
  private readonly intervalMs: number;
  private readonly baseEjectionMs: number;
  private readonly maxEjectionMs: number;
  private readonly maxEjectionPercent: number;
  private readonly successRate: Required<SuccessRateOptions> | undefined;
  private readonly ejectEmitter = new Emitter<EjectionEvent>();
  private readonly returnEmitter = new Emitter<Endpoint>();
  private endpoints: readonly Endpoint[] = [];
  private nextIntervalAt: number;
  private nextReturnAt = Number.POSITIVE_INFINITY;

  /** Fires when an endpoint is ejected (for metrics and logs). */
  readonly onDidEject: Event<EjectionEvent> = this.ejectEmitter.event;
  /** Fires when an ejected endpoint returns. */
  readonly onDidReturn: Event<Endpoint> = this.returnEmitter.event;

  constructor(child: StatefulBalancer, options: OutlierEjectionOptions = {}) {
    this.child = child;
    this.stats = child.stats;
    this.now = options.now ?? child.stats.now;
    this.consecutiveErrors = options.consecutiveErrors ?? 5;
    this.consecutiveConnectErrors = options.consecutiveConnectErrors ?? DEFAULT_CONSECUTIVE_CONNECT_ERRORS;
    this.intervalMs = Math.max(1, options.intervalMs ?? 10_000);
    this.baseEjectionMs = options.baseEjectionMs ?? 30_000;
    this.maxEjectionMs = Math.max(this.baseEjectionMs, options.maxEjectionMs ?? 300_000);
    this.maxEjectionPercent = options.maxEjectionPercent ?? 10;
    const sr = options.successRate;
    this.successRate = sr && {
      minRequests: sr.minRequests ?? 100,
      stdevFactor: sr.stdevFactor ?? 1.9,
      minEndpoints: sr.minEndpoints ?? 5,
    };
    this.nextIntervalAt = this.now() + this.intervalMs;
    // Ejections adopted from a previous stack still end on time.
    for (const s of this.stats.values()) this.noteEjected(s);
    this.stats.feedback = this;
  }

  get picker(): Picker {
    return this.child.picker;
  }

  /** Ids of the endpoints ejected now. */
  get ejectedIds(): string[] {
    // Read on every membership change (the endpoints gauge): no walk over the fleet when none is out.
    if (this.stats.ejectedCount === 0) return [];
    const ids: string[] = [];
    for (const s of this.stats.values()) if (s.ejected) ids.push(s.endpoint.id);
    return ids;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.stats.sync(endpoints);
    this.rebuild(endpoints);
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
    this.push();
  }

  onCallStart(endpoint: Endpoint): void {
    this.tick();
    this.child.onCallStart(endpoint);
  }

  onCallEnd(endpoint: Endpoint, outcome: CallOutcome): void {
    this.child.onCallEnd(endpoint, outcome);
    const s = outcome.ok ? undefined : this.stats.get(endpoint.id);
    if (s !== undefined) this.judge(s);
    this.tick();
  }

  /**
   * EndpointFeedback: a call ended through a handle (its stats already updated). Calls
   * reported through handles run the lazy checks on their ends only (there is no start hook):
   * an ejection ends at the first call end after its time instead of the first start.
   */
  callEnded(stats: EndpointStats, ok: boolean, now: number): void {
    if (!ok) this.judge(stats);
    if (now >= this.nextReturnAt || now >= this.nextIntervalAt) this.tick();
  }

  /** Ejects `s` at once when a failure completed a run of errors. */
  private judge(s: EndpointStats): void {
    if (s.ejected) return;
    const reason =
      this.consecutiveErrors > 0 && s.consecutiveErrors >= this.consecutiveErrors
        ? 'consecutive-errors'
        : this.consecutiveConnectErrors > 0 && s.consecutiveConnectErrors >= this.consecutiveConnectErrors
          ? 'connect-errors'
          : undefined;
    if (reason !== undefined && this.eject(s, reason, this.now())) this.push();
  }

  /** Returns expired ejections and runs a due interval now (also done lazily on every call). */
  tick(): void {
    const now = this.now();
    if (now < this.nextReturnAt && now < this.nextIntervalAt) return;
    let changed = false;
    if (now >= this.nextReturnAt) changed = this.returnExpired(now);
    if (now >= this.nextIntervalAt) {
      if (this.interval(now)) changed = true;
      this.nextIntervalAt = now + this.intervalMs;
    }
    if (changed) this.push();
  }

  dispose(): void {
    if (this.stats.feedback === this) this.stats.feedback = undefined;
    this.ejectEmitter.dispose();
    this.returnEmitter.dispose();
    this.child.dispose();
  }

  private push(): void {
    const list = this.child.healthAware
      ? this.endpoints
      : (healthyOf(this.stats, this.endpoints) ?? this.endpoints);
    this.child.rebuild(list);
  }

  private returnExpired(now: number): boolean {
    let changed = false;
    this.nextReturnAt = Number.POSITIVE_INFINITY;
    for (const s of this.stats.values()) {
      if (!s.ejected) continue;
      if (now >= s.ejectedUntil) {
        this.stats.clearEjection(s);
        s.consecutiveErrors = 0;
        s.consecutiveConnectErrors = 0;
        s.returnedAt = now;
        changed = true;
        this.returnEmitter.fire(s.endpoint);
      } else this.noteEjected(s);
    }
    return changed;
  }

  private interval(now: number): boolean {
    let changed = false;
    for (const s of this.stats.values()) {
      // Healthy for a whole interval since the last return: the next ejection is shorter again.
      if (!s.ejected && s.ejections > 0 && now - s.returnedAt >= this.intervalMs) s.ejections--;
    }
    const sr = this.successRate;
    if (sr !== undefined) {
      const judged: EndpointStats[] = [];
      for (const s of this.stats.values()) {
        if (!s.ejected && s.intervalSuccesses + s.intervalFailures >= sr.minRequests) judged.push(s);
      }
      if (judged.length >= sr.minEndpoints) {
        const rates = judged.map((s) => s.intervalSuccesses / (s.intervalSuccesses + s.intervalFailures));
        const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
        const variance = rates.reduce((a, r) => a + (r - mean) ** 2, 0) / rates.length;
        const threshold = mean - sr.stdevFactor * Math.sqrt(variance);
        // Worst first, so the ejection cap keeps the worst ones out.
        const order = judged.map((_, i) => i).sort((a, b) => rates[a]! - rates[b]!);
        for (const i of order) {
          if (rates[i]! < threshold && this.eject(judged[i]!, 'success-rate', now)) changed = true;
        }
      }
    }
    for (const s of this.stats.values()) {
      s.intervalSuccesses = 0;
      s.intervalFailures = 0;
    }
    return changed;
  }

  private maxEjected(): number {
    if (this.maxEjectionPercent <= 0) return 0;
    return Math.max(1, Math.floor((this.stats.size * this.maxEjectionPercent) / 100));
  }

  private eject(s: EndpointStats, reason: EjectionReason, now: number): boolean {
    let ejected = 0;
    for (const other of this.stats.values()) if (other.ejected) ejected++;
    if (ejected >= this.maxEjected()) return false;
    s.ejections++;
    const durationMs = Math.min(this.maxEjectionMs, this.baseEjectionMs * s.ejections);
    // Never 0: 0 means "not ejected".
    this.stats.setEjected(s, Math.max(now + durationMs, Number.MIN_VALUE), reason);
    s.consecutiveErrors = 0;
    s.consecutiveConnectErrors = 0;
    this.noteEjected(s);
    this.ejectEmitter.fire({
      endpoint: s.endpoint,
      reason,
      ejections: s.ejections,
      durationMs,
      until: now + durationMs,
    });
    return true;
  }

  private noteEjected(s: EndpointStats): void {
    if (s.ejected && s.ejectedUntil < this.nextReturnAt) this.nextReturnAt = s.ejectedUntil;
  }
}
