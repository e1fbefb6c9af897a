import {
  type Clock,
  ConfigError,
  DeadlineExceededError,
  type ExecuteContext,
  firstAttempt,
  type Policy,
  systemClock,
} from '@meshless/core';
import { currentDeadline, runWithDeadline } from './deadline.ts';
import { runTimedAttempt } from './timed-attempt.ts';

export interface DeadlinePolicyOptions {
  resource?: string | undefined;
  clock?: Clock | undefined;
  /**
   * Starts a deadline this many ms after the call begins, unless the caller's deadline is
   * sooner; the work and everything it calls (headers included) then run under it. Default:
   * none, the policy only enforces a deadline it inherits.
   */
  deadlineMs?: number | undefined;
}

const FIRST: ExecuteContext = firstAttempt;

/**
 * Enforces the current deadline (runWithDeadline, or one read from `x-meshless-deadline`):
 * fails fast with DeadlineExceededError when no time is left, else runs the work with its
 * signal aborted, and the call rejected, when the deadline passes. That is an inner timeout
 * of the remaining time; a TimeoutPolicy inside it can also read `remainingMs()`.
 *
 * Outside retry (`wrap(fallback, bulkhead, deadline, retry, breaker, timeout)`) it bounds the
 * whole call, retries included; retry stops on its own when a backoff would outlast the
 * deadline. Without a deadline it costs one AsyncLocalStorage read and no timer.
 */
export class DeadlinePolicy implements Policy {
  private readonly resource: string;
  private readonly clock: Clock;
  private deadlineMs: number | undefined;

  constructor(options: DeadlinePolicyOptions = {}) {
    this.resource = options.resource ?? 'deadline';
    this.clock = options.clock ?? systemClock;
    this.reconfigure(options);
  }

  /** Changes `deadlineMs`; calls in flight keep theirs. */
  reconfigure(options: Pick<DeadlinePolicyOptions, 'deadlineMs'>): void {
    const ms = options.deadlineMs;
    if (ms !== undefined && !(ms > 0)) {
      throw new ConfigError('deadline.deadlineMs: must be above 0', { path: 'deadline.deadlineMs' });
    }
    this.deadlineMs = ms;
  }

  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    const own = this.deadlineMs;
    if (own !== undefined) {
      const deadlineAt = this.clock.now() + own;
      const inherited = currentDeadline();
      if (inherited === undefined || deadlineAt < inherited) {
        return runWithDeadline(deadlineAt, () => this.enforce(deadlineAt, fn, signal));
      }
      return this.enforce(inherited, fn, signal);
    }
    const deadlineAt = currentDeadline();
    if (deadlineAt === undefined) return this.runPlain(fn, signal);
    return this.enforce(deadlineAt, fn, signal);
  }

  private enforce<T>(
    deadlineAt: number,
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const left = deadlineAt - this.clock.now();
    if (left <= 0) return Promise.reject(new DeadlineExceededError(this.resource));
    return runTimedAttempt(fn, signal, 1, left, this.clock, () => new DeadlineExceededError(this.resource));
  }

  private async runPlain<T>(
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    signal?: AbortSignal,
  ): Promise<T> {
    return fn(signal === undefined ? FIRST : { signal, attempt: 1 });
  }
}
