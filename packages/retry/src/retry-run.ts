import {
  backoffDelay,
  type Clock,
  DeadlineExceededError,
  type Emitter,
  type ExecuteContext,
  neverAborted,
  type Random,
  RetryBudgetExhaustedError,
  sleep,
  TimeoutError,
} from '@meshless/core';
import { type Classify, RETRY, type RetryVerdict } from './classifier.ts';
import { currentDeadline } from './deadline.ts';
import { retryLoop } from './p-retry-adapter.ts';
import type { RetryBudget } from './retry-budget.ts';
import { type PerTryQueue, runTimedAttempt } from './timed-attempt.ts';

/** An immutable snapshot of a RetryPolicy's configuration; a call keeps the one it started with. */
export interface RetrySettings {
  readonly resource: string;
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
  readonly perTryTimeoutMs: number | undefined;
  /** @internal The attempts in flight under `perTryTimeoutMs` (one timer for them all). */
  readonly perTryQueue: PerTryQueue | undefined;
  readonly classify: Classify;
  readonly budget: RetryBudget | undefined;
  readonly clock: Clock;
  readonly random: Random;
}

/** Fired before each retry (after the decision, before the backoff delay). */
export interface RetryEvent {
  readonly resource: string;
  /** The attempt about to start (2 for the first retry). */
  readonly attempt: number;
  readonly delayMs: number;
  /** What failed: the thrown error, or the result classified as retriable (e.g. a 503 response). */
  readonly failure: unknown;
}

export type GiveUpReason = 'attempts' | 'not-retriable' | 'budget' | 'deadline' | 'retry-after';

/** Fired when a call that failed at least once ends without success. */
export interface GiveUpEvent {
  readonly resource: string;
  /** Attempts made. */
  readonly attempts: number;
  readonly reason: GiveUpReason;
  readonly failure: unknown;
}

/** Fired when the budget denies a retry; `error` wraps the failure as its cause, for logs. */
export interface BudgetExhaustedEvent {
  readonly resource: string;
  /** The attempt that was not made. */
  readonly attempt: number;
  readonly error: RetryBudgetExhaustedError;
}

export interface RetryEmitters {
  readonly retry: Emitter<RetryEvent>;
  readonly giveUp: Emitter<GiveUpEvent>;
  readonly budgetExhausted: Emitter<BudgetExhaustedEvent>;
}

// Per-try timeouts are retried whatever `on` says: they exist to be retried (Envoy's per_try_timeout).
const perTryTimeouts = new WeakSet<object>();

/** A retriable result travels through the loop as a failure and is returned if it is the last. */
class RetriableResult {
  readonly value: unknown;
  readonly verdict: RetryVerdict;
  constructor(value: unknown, verdict: RetryVerdict) {
    this.value = value;
    this.verdict = verdict;
  }
}

/**
 * The slow path of one call: everything after its first failure. Allocated only then.
 */
export class RetryRun<T> {
  private readonly s: RetrySettings;
  private readonly fn: (ctx: ExecuteContext) => PromiseLike<T> | T;
  private readonly signal: AbortSignal | undefined;
  private readonly emitters: RetryEmitters;
  private reason: GiveUpReason = 'attempts';
  private made = 1;

  constructor(
    s: RetrySettings,
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    signal: AbortSignal | undefined,
    emitters: RetryEmitters,
  ) {
    this.s = s;
    this.fn = fn;
    this.signal = signal;
    this.emitters = emitters;
  }

  /** Runs attempt 1 under the per-try timeout, then retries (used when perTryTimeoutMs is set). */
  async runAll(): Promise<T> {
    let value: T;
    try {
      value = await this.attempt(1);
    } catch (failure) {
      return this.continueAfter(failure);
    }
    return value;
  }

  /** Runs the only attempt (attempts 1) under the per-try timeout. */
  async runOnce(): Promise<T> {
    try {
      return await this.attempt(1);
    } catch (failure) {
      if (failure instanceof RetriableResult) return failure.value as T;
      throw failure;
    }
  }

  /** Continues a call whose attempt 1 failed with `failure` (an error or a RetriableResult). */
  async continueAfter(failure: unknown): Promise<T> {
    if (this.signal?.aborted) throw unwrapOrReason(failure, this.signal);
    if (!(await this.beforeRetry(failure, 2))) return this.giveUp(failure);
    let last: unknown;
    try {
      return await retryLoop(
        (n) => this.attempt(n),
        2,
        this.s.attempts,
        (f, next) => this.beforeRetry(f, next),
        this.signal,
      );
    } catch (error) {
      last = error;
    }
    // A caller's abort is final: not a failure to report or return.
    if (this.signal?.aborted && last === this.signal.reason) throw last;
    return this.giveUp(last);
  }

  /** The first attempt's result was classified retriable. */
  continueAfterResult(value: T, verdict: RetryVerdict): Promise<T> {
    return this.continueAfter(new RetriableResult(value, verdict));
  }

  private async attempt(n: number): Promise<T> {
    this.made = n;
    const s = this.s;
    let value: T;
    if (s.perTryTimeoutMs === undefined) {
      value = await this.fn({ signal: this.signal ?? neverAborted, attempt: n });
    } else {
      const deadlineAt = currentDeadline();
      const left = deadlineAt === undefined ? Number.POSITIVE_INFINITY : deadlineAt - s.clock.now();
      if (left <= 0) throw new DeadlineExceededError(s.resource);
      const byDeadline = left < s.perTryTimeoutMs;
      const timeoutMs = byDeadline ? left : s.perTryTimeoutMs;
      // The per-try timeout shares the settings' queue; what is left of a deadline is one-off.
      const timer = byDeadline ? left : s.perTryQueue!;
      value = await runTimedAttempt(this.fn, this.signal, n, timer, s.clock, () => {
        if (byDeadline) return new DeadlineExceededError(s.resource);
        const error = new TimeoutError(s.resource, timeoutMs);
        perTryTimeouts.add(error);
        return error;
      });
    }
    const verdict = s.classify(value, false);
    if (verdict.retry) throw new RetriableResult(value, verdict);
    return value;
  }

  /** Decides on `failure` and waits out the delay; false stops with that failure. */
  private async beforeRetry(failure: unknown, next: number): Promise<boolean> {
    const s = this.s;
    let verdict: RetryVerdict;
    if (failure instanceof RetriableResult) verdict = failure.verdict;
    else if (typeof failure === 'object' && failure !== null && perTryTimeouts.has(failure)) verdict = RETRY;
    else verdict = s.classify(failure, true);
    if (!verdict.retry) return this.stop('not-retriable');

    const deadlineAt = currentDeadline();
    const left = deadlineAt === undefined ? Number.POSITIVE_INFINITY : deadlineAt - s.clock.now();
    let delayMs: number;
    if (verdict.afterMs !== undefined) {
      // The server asked for a wait: honour it only if the caller can afford it.
      if (verdict.afterMs > (deadlineAt === undefined ? s.maxMs : left)) return this.stop('retry-after');
      delayMs = verdict.afterMs;
    } else {
      delayMs = backoffDelay(next - 2, s.baseMs, s.maxMs, s.random);
    }
    if (deadlineAt !== undefined && delayMs >= left) return this.stop('deadline');

    if (s.budget !== undefined && !s.budget.tryWithdraw()) {
      if (this.emitters.budgetExhausted.hasListeners) {
        const error = new RetryBudgetExhaustedError(s.resource, { cause: unwrap(failure) });
        this.emitters.budgetExhausted.fire({ resource: s.resource, attempt: next, error });
      }
      return this.stop('budget');
    }
    if (this.emitters.retry.hasListeners) {
      this.emitters.retry.fire({ resource: s.resource, attempt: next, delayMs, failure: unwrap(failure) });
    }
    if (delayMs > 0) await sleep(delayMs, this.signal, s.clock);
    return true;
  }

  private stop(reason: GiveUpReason): false {
    this.reason = reason;
    return false;
  }

  /** Ends the call with its last failure: a retriable result is returned, an error thrown. */
  private giveUp(failure: unknown): T {
    if (this.emitters.giveUp.hasListeners) {
      this.emitters.giveUp.fire({
        resource: this.s.resource,
        attempts: this.made,
        reason: this.reason,
        failure: unwrap(failure),
      });
    }
    if (failure instanceof RetriableResult) return failure.value as T;
    throw failure;
  }
}

function unwrapOrReason(failure: unknown, signal: AbortSignal): unknown {
  return failure instanceof RetriableResult ? signal.reason : failure;
}

function unwrap(failure: unknown): unknown {
  return failure instanceof RetriableResult ? failure.value : failure;
}
