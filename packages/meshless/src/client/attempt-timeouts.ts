import { type Clock, DeadlineEntry, DeadlineQueue, TimeoutError } from '@meshless/core';
import type { Abortable } from './response-handler.ts';

/** An attempt in flight: its place in the deadline queue and its abort handle. */
export class TimedAttempt extends DeadlineEntry {
  /** What the timeout aborts: the request of this attempt. */
  target: Abortable | undefined = undefined;
}

/**
 * Per-attempt timeouts of one `timeoutMs`, on a core DeadlineQueue (one re-armed, unref'ed
 * timer for all attempts, no timer per call). An expired attempt's request is aborted with a
 * TimeoutError, which the breaker counts and retry classifies as `timeout`.
 */
export class AttemptTimeouts {
  readonly timeoutMs: number;
  private readonly queue: DeadlineQueue<TimedAttempt>;

  // Plain fields, no parameter properties: the benches load this file with Node's type stripping.
  constructor(timeoutMs: number, resource: string, clock: Clock) {
    this.timeoutMs = timeoutMs;
    this.queue = new DeadlineQueue<TimedAttempt>(
      timeoutMs,
      (attempt) => attempt.target?.abort(new TimeoutError(resource, timeoutMs)),
      clock,
    );
  }

  /** An attempt starts now (`now`: the caller's reading of the same clock, to save a read). */
  start(now?: number): TimedAttempt {
    return this.queue.add(new TimedAttempt(), now);
  }

  /** The attempt ended (answered or failed) before its deadline. */
  end(attempt: TimedAttempt): void {
    this.queue.cancel(attempt);
  }
}
