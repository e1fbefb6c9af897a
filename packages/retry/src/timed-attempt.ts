import {
  type Clock,
  DeadlineEntry,
  DeadlineQueue,
  type ExecuteContext,
  type TimerHandle,
} from '@meshless/core';

/**
 * One timed attempt: its entry in a per-try DeadlineQueue (or its own timer), its AbortSignal
 * and the settle-once state. The parent listener is the object itself (no closure).
 */
export class TimedRun extends DeadlineEntry {
  readonly controller = new AbortController();
  private settled = false;
  queue: PerTryQueue | undefined = undefined;
  timer: TimerHandle | undefined = undefined;

  constructor(
    private readonly parent: AbortSignal | undefined,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (reason: unknown) => void,
    private readonly onExpire: () => Error,
  ) {
    super();
  }

  fulfil(value: unknown): void {
    if (this.finish()) this.resolve(value);
  }

  fail(error: unknown): void {
    if (this.finish()) this.reject(error);
  }

  /** The time is up (from the queue or the own timer). */
  expire(): void {
    if (!this.finish()) return;
    const error = this.onExpire();
    this.controller.abort(error);
    this.reject(error);
  }

  /** The parent signal aborted. */
  handleEvent(): void {
    if (!this.finish()) return;
    const reason = this.parent!.reason;
    this.controller.abort(reason);
    this.reject(reason);
  }

  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.queue?.cancel(this);
    this.timer?.cancel();
    this.parent?.removeEventListener('abort', this);
    return true;
  }
}

/** The attempts in flight under one per-try timeout: one timer for all of them. */
export type PerTryQueue = DeadlineQueue<TimedRun>;

const expireRun = (run: TimedRun): void => run.expire();

/** A queue for the per-try timeout `timeoutMs` (made once per retry settings, not per call). */
export function perTryQueue(timeoutMs: number, clock: Clock): PerTryQueue {
  return new DeadlineQueue<TimedRun>(timeoutMs, expireRun, clock);
}

/**
 * Runs one attempt with its own AbortSignal, which follows `parent` and is aborted with
 * `onExpire()`'s error when the time is up; the returned promise rejects with that error at
 * once, even if the work ignores its signal. The time is `timer`: a per-try queue (one shared
 * timer), or a number of ms for a one-off duration (what is left of a deadline differs per
 * call, so no queue fits it: that costs one unref'ed timer). Costs one AbortController and one
 * parent listener, so it is used only where a per-try timeout or a deadline asks for it.
 * The link to `parent` ends when the attempt settles (no listener piles up on a long-lived
 * caller signal), so a response body read after that follows the caller's own signal only.
 */
export function runTimedAttempt<T>(
  fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
  parent: AbortSignal | undefined,
  attempt: number,
  timer: PerTryQueue | number,
  clock: Clock,
  onExpire: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (parent?.aborted) {
      reject(parent.reason);
      return;
    }
    const run = new TimedRun(parent, resolve as (value: unknown) => void, reject, onExpire);
    if (typeof timer === 'number') run.timer = clock.setTimeout(() => run.expire(), timer);
    else {
      run.queue = timer;
      timer.add(run);
    }
    parent?.addEventListener('abort', run, { once: true });
    let pending: PromiseLike<T> | T;
    try {
      pending = fn({ signal: run.controller.signal, attempt });
    } catch (error) {
      pending = Promise.reject(error);
    }
    Promise.resolve(pending).then(
      (value) => run.fulfil(value),
      (error: unknown) => run.fail(error),
    );
  });
}
