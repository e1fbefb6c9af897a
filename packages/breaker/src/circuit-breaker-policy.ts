import {
  CircuitOpenError,
  type Clock,
  contextFor,
  type Disposable,
  Emitter,
  type Event,
  type ExecuteContext,
  isThenable,
  type Policy,
  systemClock,
} from '@meshless/core';
import { type BreakerRule, type BreakerSettings, resolveBreakerSettings } from './breaker-rule.ts';
import { BucketRotation, RollingWindow, type WindowCounts } from './opossum-adapter.ts';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitStateChange {
  readonly resource: string;
  /** Set for a per-endpoint breaker of a registry. */
  readonly endpointId: string | undefined;
  readonly from: CircuitState;
  readonly to: CircuitState;
}

export interface CircuitBreakerOptions extends BreakerRule {
  /** Named in errors and events. Default 'breaker'. */
  resource?: string;
  endpointId?: string;
  clock?: Clock;
  /**
   * A rotation shared with other breakers (what BreakerRegistry passes). Default: one owned by
   * this breaker, with ten buckets per window.
   */
  rotation?: BucketRotation;
  /**
   * Which errors count as failures. Errors it rejects count as neither success nor failure.
   * Default: every error except an `AbortError` (the caller gave up; the callee did not fail).
   */
  isFailure?: (error: unknown) => boolean;
}

/** @internal What a registry hands each breaker it creates. */
export interface SharedBreakerParts {
  readonly settings: BreakerSettings;
  readonly onStateChange: (change: CircuitStateChange) => void;
}

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const STATE_NAMES: readonly CircuitState[] = ['closed', 'open', 'half-open'];

/** Buckets per window for a breaker that owns its rotation. */
const OWN_BUCKETS = 10;

export function defaultIsFailure(error: unknown): boolean {
  return !(
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'AbortError'
  );
}

/**
 * Circuit breaker with opossum's rolling window inside.
 *
 * closed -> open (Resilience4j's rule): after every recorded outcome, a success included, when
 * the window holds at least `volume` calls and the failure share is at least `errorPercent`,
 * or the slow-call share (calls over `slowCallMs`) is at least `slowCallPercent`. So 10
 * failures then 10 successes with volume 20 / 50 % open on the 20th call.
 * open -> half-open on the first call (or `state` read) after `openMs`; no timer runs per open
 * breaker.
 * half-open (Hystrix's and opossum's rule, with N probes): it admits `halfOpenProbes` trial
 * calls in all and rejects the rest until they have ended. Any failed probe reopens at once
 * (openMs counts again from then; probes still running no longer count). When all N probes have
 * succeeded it closes, unless the share of slow probes among them reaches `slowCallPercent`,
 * which reopens. A probe ending with an error that is not a failure frees its slot. Closing
 * starts a clean window. docs/decisions.md says why half-open is not Resilience4j's rate rule.
 */
export class CircuitBreakerPolicy implements Policy, Disposable {
  readonly resource: string;
  readonly endpointId: string | undefined;
  private settings: BreakerSettings;
  private readonly clock: Clock;
  private readonly window: RollingWindow;
  private readonly ownRotation: BucketRotation | undefined;
  private readonly isFailure: (error: unknown) => boolean;
  private readonly forward: ((change: CircuitStateChange) => void) | undefined;
  private emitter: Emitter<CircuitStateChange> | undefined;
  private phase = CLOSED;
  /** Bumped on every transition, so a late result never counts for a later state. */
  private epoch = 0;
  private openedAt = 0;
  /** The failure that opened the breaker, handed to CircuitOpenError as its cause. */
  private openCause: unknown;
  private probesAdmitted = 0;
  private probesSucceeded = 0;
  private probesSlow = 0;
  /**
   * Closed only: a failure or slow call was recorded since the window last held none, so a
   * success may still find a threshold reached. While false a success needs no window read.
   */
  private mayTrip = false;
  /** The latest failure recorded while closed: the cause of an opening that a success triggers. */
  private lastFailure: unknown;

  constructor(options: CircuitBreakerOptions = {}, shared?: SharedBreakerParts) {
    this.settings = shared?.settings ?? resolveBreakerSettings(options);
    this.resource = options.resource ?? 'breaker';
    this.endpointId = options.endpointId;
    this.clock = options.clock ?? systemClock;
    this.isFailure = options.isFailure ?? defaultIsFailure;
    this.forward = shared?.onStateChange;
    let rotation = options.rotation;
    if (!rotation) {
      rotation = new BucketRotation({ clock: this.clock, bucketMs: this.settings.windowMs / OWN_BUCKETS });
      this.ownRotation = rotation;
    }
    this.window = new RollingWindow(rotation, this.settings.windowMs);
  }

  /** The current state; reading it moves an open breaker whose `openMs` passed to half-open. */
  get state(): CircuitState {
    if (this.phase === OPEN && this.clock.now() - this.openedAt >= this.settings.openMs) {
      this.transition(HALF_OPEN);
    }
    return STATE_NAMES[this.phase]!;
  }

  /** While open: the clock time it lets a probe through (then half-open); 0 otherwise. */
  get openUntil(): number {
    return this.phase === OPEN ? this.openedAt + this.settings.openMs : 0;
  }

  /** Fires on every state change. */
  get onDidChangeState(): Event<CircuitStateChange> {
    // Created on first use: most of a registry's breakers are never watched one by one.
    this.emitter ??= new Emitter<CircuitStateChange>();
    return this.emitter.event;
  }

  /** Calls, failures and slow calls in the current window. */
  get counts(): WindowCounts {
    return this.window.counts();
  }

  get options(): BreakerSettings {
    return this.settings;
  }

  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    if (this.phase !== CLOSED) return this.executeNotClosed(fn, signal);
    const slowCallMs = this.settings.slowCallMs;
    if (slowCallMs !== undefined) return this.executeTimed(fn, signal, slowCallMs);
    // Hot path: no timing, no per-call closure; the prepared handlers record the outcome.
    let result: PromiseLike<T> | T;
    try {
      result = fn(contextFor(signal));
    } catch (error) {
      return Promise.reject(this.recordClosedError(error));
    }
    if (result instanceof Promise) return result.then(this.closedOk, this.closedError);
    if (isThenable(result)) return Promise.resolve(result).then(this.closedOk, this.closedError);
    this.recordClosedSuccess();
    return Promise.resolve(result);
  }

  /** Applies a new rule live: an open breaker stays open, the window keeps its counts. */
  reconfigure(options: BreakerRule): void {
    this.applySettings(resolveBreakerSettings(options));
  }

  /** @internal Used by BreakerRegistry, which resolves a rule once for all its breakers. */
  applySettings(settings: BreakerSettings): void {
    const windowChanged = settings.windowMs !== this.settings.windowMs;
    this.settings = settings;
    if (!windowChanged) return;
    this.ownRotation?.setBucketMs(settings.windowMs / OWN_BUCKETS);
    this.window.resize(settings.windowMs);
  }

  dispose(): void {
    this.window.dispose();
    this.ownRotation?.dispose();
    this.emitter?.dispose();
  }

  private readonly closedOk = <V>(value: V): V => {
    if (this.phase === CLOSED) this.recordClosedSuccess();
    return value;
  };

  /** A success that was not slow: a counter bump, and the thresholds checked if they may be reached. */
  private recordClosedSuccess(): void {
    this.window.success();
    if (this.mayTrip) this.checkTrip(this.lastFailure);
  }

  private readonly closedError = (error: unknown): never => {
    throw this.recordClosedError(error);
  };

  private recordClosedError(error: unknown): unknown {
    if (this.phase === CLOSED && this.isFailure(error)) {
      this.window.record(true, false, 0);
      this.lastFailure = error;
      this.mayTrip = true;
      this.checkTrip(error);
    }
    return error;
  }

  private async executeTimed<T>(
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    signal: AbortSignal | undefined,
    slowCallMs: number,
  ): Promise<T> {
    const epoch = this.epoch;
    const start = this.clock.now();
    let value: T;
    try {
      value = await fn(contextFor(signal));
    } catch (error) {
      if (epoch === this.epoch && this.isFailure(error)) {
        const ms = this.clock.now() - start;
        this.window.record(true, ms > slowCallMs, ms);
        this.lastFailure = error;
        this.mayTrip = true;
        this.checkTrip(error);
      }
      throw error;
    }
    if (epoch === this.epoch) {
      const ms = this.clock.now() - start;
      if (ms > slowCallMs) {
        this.window.record(false, true, ms);
        this.mayTrip = true;
        this.checkTrip(this.lastFailure);
      } else this.recordClosedSuccess();
    }
    return value;
  }

  private executeNotClosed<T>(
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    if (this.phase === OPEN) {
      if (this.clock.now() - this.openedAt < this.settings.openMs) return this.reject();
      this.transition(HALF_OPEN);
    }
    if (this.probesAdmitted >= this.settings.halfOpenProbes) return this.reject();
    this.probesAdmitted++;
    return this.probe(fn, signal, this.epoch);
  }

  private async probe<T>(
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    signal: AbortSignal | undefined,
    epoch: number,
  ): Promise<T> {
    const start = this.clock.now();
    let value: T;
    try {
      value = await fn(contextFor(signal));
    } catch (error) {
      if (epoch === this.epoch) {
        if (this.isFailure(error)) this.transition(OPEN, error);
        // An outcome that says nothing about the callee frees its slot for another probe.
        else this.probesAdmitted--;
      }
      throw error;
    }
    if (epoch === this.epoch) this.probeSucceeded(this.clock.now() - start);
    return value;
  }

  private probeSucceeded(ms: number): void {
    const s = this.settings;
    this.probesSucceeded++;
    if (s.slowCallMs !== undefined && ms > s.slowCallMs) this.probesSlow++;
    if (this.probesSucceeded < s.halfOpenProbes) return;
    const tooSlow =
      s.slowCallMs !== undefined && this.probesSlow * 100 >= s.slowCallPercent * this.probesSucceeded;
    this.transition(tooSlow ? OPEN : CLOSED);
  }

  private reject<T>(): Promise<T> {
    return Promise.reject(
      new CircuitOpenError(this.resource, this.openCause === undefined ? {} : { cause: this.openCause }),
    );
  }

  /** Runs after every outcome recorded while closed (successes skip it while `mayTrip` is false). */
  private checkTrip(cause: unknown): void {
    const s = this.settings;
    const c = this.window.counts();
    if (c.failures === 0 && c.slow === 0) {
      // What could trip the breaker rotated out: successes are plain counter bumps again.
      this.mayTrip = false;
      this.lastFailure = undefined;
      return;
    }
    if (c.calls < s.volume) return;
    if (
      c.failures * 100 >= s.errorPercent * c.calls ||
      (s.slowCallMs !== undefined && c.slow * 100 >= s.slowCallPercent * c.calls)
    ) {
      this.transition(OPEN, cause);
    }
  }

  private transition(to: number, cause?: unknown): void {
    const from = this.phase;
    if (from === to) return;
    this.phase = to;
    this.epoch++;
    this.probesAdmitted = 0;
    this.probesSucceeded = 0;
    this.probesSlow = 0;
    this.mayTrip = false;
    this.lastFailure = undefined;
    if (to === OPEN) {
      this.openedAt = this.clock.now();
      this.openCause = cause;
    } else if (to === CLOSED) {
      this.window.reset();
      this.openCause = undefined;
    }
    if (this.emitter === undefined && this.forward === undefined) return;
    const change: CircuitStateChange = {
      resource: this.resource,
      endpointId: this.endpointId,
      from: STATE_NAMES[from]!,
      to: STATE_NAMES[to]!,
    };
    this.emitter?.fire(change);
    this.forward?.(change);
  }
}
