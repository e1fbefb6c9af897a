import { type Clock, MeshlessError } from '@meshless/core';
import { type Classify, httpClassifier, NO_RETRY, RETRY } from '@meshless/retry';

/**
 * What a retry or hedge repeats for local work (a decorated method), where the HTTP categories
 * of `retry.on` rarely fit: without `on`, every thrown error is retried except a caller's abort
 * (AbortError), an open circuit (it stays open longer than any backoff) and meshless errors
 * that say retrying cannot help (`retryable: false`: full bulkhead, rate limit, budget);
 * a TimeoutError is retried. Returned values are never retried. With `on`, exactly what `on`
 * names is retried, as for remote calls (errors by `code` or `status`).
 */
export function localClassifier(on: readonly string[] | undefined, clock: Clock): Classify {
  if (on !== undefined) return httpClassifier({ on, clock });
  return anyFailure;
}

const anyFailure: Classify = (value, failed) => (failed && retriable(value) ? RETRY : NO_RETRY);

function retriable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  if ((error as { name?: unknown }).name === 'AbortError') return false;
  if (!MeshlessError.isInstance(error)) return true;
  return error.retryable && error.code !== 'MESHLESS_CIRCUIT_OPEN';
}

/**
 * A classifier whose rule can change while the policies holding it live on (RetryPolicy and
 * HedgePolicy fix their `classify` for life): they hold this one, which delegates.
 */
export class SwitchableClassifier {
  private current: Classify;
  private on: readonly string[] | undefined;
  private readonly clock: Clock;

  constructor(on: readonly string[] | undefined, clock: Clock) {
    this.clock = clock;
    this.on = on;
    this.current = localClassifier(on, clock);
  }

  readonly classify: Classify = (value, failed) => this.current(value, failed);

  /** Follows a new `retry.on`; a no-op when it did not change. */
  update(on: readonly string[] | undefined): void {
    if (sameList(on, this.on)) return;
    this.on = on;
    this.current = localClassifier(on, this.clock);
  }
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.every((v, i) => v === b[i]);
}
