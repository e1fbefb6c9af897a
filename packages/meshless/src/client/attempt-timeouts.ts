import { type Clock, TimeoutError, type TimerHandle } from '@meshless/core';
import type { Abortable } from './response-handler.ts';

/** An attempt in flight: its place in the deadline list and its abort handle. */
export class TimedAttempt {
  prev: TimedAttempt | null = null;
  next: TimedAttempt | null = null;
  /** What the timeout aborts: the request of this attempt. */
  target: Abortable | undefined = undefined;
  constructor(readonly deadline: number) {}
}

/**
 * Per-attempt timeouts of one `timeoutMs`: attempts start in deadline order, so a linked FIFO and
 * one re-armed, unref'ed timer serve them all (no timer per call). An expired attempt's request
 * is aborted with a TimeoutError, which the breaker counts and retry classifies as `timeout`.
 */
export class AttemptTimeouts {
  private head: TimedAttempt | null = null;
  private tail: TimedAttempt | null = null;
  private timer: TimerHandle | undefined;

  constructor(
    readonly timeoutMs: number,
    private readonly resource: string,
    private readonly clock: Clock,
  ) {}

  /** An attempt starts now (`now`: the caller's reading of the same clock, to save a read). */
  start(now: number = this.clock.now()): TimedAttempt {
    const attempt = new TimedAttempt(now + this.timeoutMs);
    attempt.prev = this.tail;
    if (this.tail) this.tail.next = attempt;
    else this.head = attempt;
    this.tail = attempt;
    if (!this.timer) this.arm(attempt.deadline);
    return attempt;
  }

  /** The attempt ended (answered or failed) before its deadline. */
  end(attempt: TimedAttempt): void {
    if (attempt.prev) attempt.prev.next = attempt.next;
    else if (this.head === attempt) this.head = attempt.next;
    else return; // already expired and unlinked
    if (attempt.next) attempt.next.prev = attempt.prev;
    else if (this.tail === attempt) this.tail = attempt.prev;
    attempt.prev = null;
    attempt.next = null;
  }

  private arm(at: number): void {
    this.timer = this.clock.setTimeout(() => this.expire(), Math.max(0, at - this.clock.now()));
  }

  private expire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    let attempt = this.head;
    while (attempt && attempt.deadline <= now) {
      const next = attempt.next;
      this.end(attempt);
      attempt.target?.abort(new TimeoutError(this.resource, this.timeoutMs));
      attempt = next;
    }
    // Ended attempts were unlinked on the way; the timer follows the new head, if any.
    if (this.head) this.arm(this.head.deadline);
  }
}
