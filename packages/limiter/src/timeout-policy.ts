import {
  type Clock,
  type Disposable,
  Emitter,
  type Event,
  type ExecuteContext,
  isThenable,
  neverAborted,
  type Policy,
  systemClock,
  TimeoutError,
  type TimerHandle,
} from '@meshless/core';
import { parseTimeoutMs } from './limiter-rules.ts';

export interface TimeoutOptions {
  /** Time limit of each call, ms. */
  timeoutMs: number;
  /** Named in errors and events. Default 'timeout'. */
  resource?: string;
  clock?: Clock;
}

export interface TimeoutEvent {
  readonly resource: string;
  readonly timeoutMs: number;
}

const PENDING = 0;
const SETTLED = 1;

const noop = (): void => {};

type PromiseExecutor<T> = (resolve: (value: T) => void, reject: (reason: unknown) => void) => void;

// `new Promise(capture)` hands out its resolvers without a closure per call.
let capturedResolve: (value: unknown) => void = noop;
let capturedReject: (reason: unknown) => void = noop;
function capture(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** Calls with one timeoutMs, in start order, hence in deadline order. */
class CallQueue {
  readonly timeoutMs: number;
  head: TimedCall | null = null;
  tail: TimedCall | null = null;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  push(call: TimedCall): void {
    call.prev = this.tail;
    if (this.tail) this.tail.next = call;
    else this.head = call;
    this.tail = call;
  }

  remove(call: TimedCall): void {
    if (call.prev) call.prev.next = call.next;
    else if (this.head === call) this.head = call.next;
    if (call.next) call.next.prev = call.prev;
    else if (this.tail === call) this.tail = call.prev;
    call.prev = null;
    call.next = null;
  }
}

/**
 * One call in flight: its queue node, and the ExecuteContext the work gets. The AbortController
 * is created only when the work reads `signal`, so work that never looks at it costs none.
 */
class TimedCall implements ExecuteContext {
  readonly attempt = 1;
  prev: TimedCall | null = null;
  next: TimedCall | null = null;
  state = PENDING;
  resolve: (value: unknown) => void = noop;
  reject: (reason: unknown) => void = noop;
  private controller: AbortController | undefined;
  /** Why the call ended early (TimeoutError or the outer signal's reason), for a late `signal` read. */
  private reason: unknown;
  private aborted = false;
  readonly queue: CallQueue;
  readonly deadline: number;
  readonly outer: AbortSignal | undefined;

  constructor(queue: CallQueue, deadline: number, outer: AbortSignal | undefined) {
    this.queue = queue;
    this.deadline = deadline;
    this.outer = outer;
  }

  get signal(): AbortSignal {
    let controller = this.controller;
    if (!controller) {
      controller = this.controller = new AbortController();
      if (this.aborted) controller.abort(this.reason);
    }
    return controller.signal;
  }

  fulfil(value: unknown): void {
    if (this.state !== PENDING) return;
    this.finish();
    this.resolve(value);
  }

  fail(error: unknown): void {
    if (this.state !== PENDING) return;
    this.finish();
    this.reject(error);
  }

  /** Ends the call early: the work's signal aborts and the caller gets `reason`. */
  abort(reason: unknown): void {
    if (this.state !== PENDING) return;
    this.finish();
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.reject(reason);
  }

  /** The outer signal aborted (EventTarget listener object: no closure per call). */
  handleEvent(): void {
    this.abort(this.outer!.reason);
  }

  private finish(): void {
    this.state = SETTLED;
    if (this.prev !== null || this.next !== null || this.queue.head === this) this.queue.remove(this);
    this.outer?.removeEventListener('abort', this);
  }
}

/**
 * Rejects with TimeoutError after `timeoutMs` and aborts the work's `ctx.signal`. One timer per
 * policy, not per call: calls with the same timeout expire in start order, so they wait in a
 * linked queue and the timer is armed for the head only. A call that finishes first just leaves
 * the queue; the timer, when it fires, expires what is due and rearms for the new head.
 * An outer signal aborts the work too, and the call rejects with its reason.
 */
export class TimeoutPolicy implements Policy, Disposable {
  readonly resource: string;
  private readonly clock: Clock;
  private current: CallQueue;
  /** Queues of earlier settings whose calls are still in flight (reconfigure). */
  private draining: CallQueue[] = [];
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private disposed = false;
  private readonly timedOut = new Emitter<TimeoutEvent>();

  /** Fires for every call that timed out. */
  readonly onDidTimeout: Event<TimeoutEvent> = this.timedOut.event;

  constructor(options: TimeoutOptions) {
    this.current = new CallQueue(parseTimeoutMs(options.timeoutMs));
    this.resource = options.resource ?? 'timeout';
    this.clock = options.clock ?? systemClock;
  }

  get timeoutMs(): number {
    return this.current.timeoutMs;
  }

  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    const outer = signal === undefined || signal === neverAborted ? undefined : signal;
    if (outer?.aborted) return Promise.reject(outer.reason);
    const queue = this.current;
    const now = this.clock.now();
    const call = new TimedCall(queue, now + queue.timeoutMs, outer);
    let result: PromiseLike<T> | T;
    try {
      result = fn(call);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!isThenable(result)) return Promise.resolve(result);
    if (outer?.aborted) {
      // Aborted while the work started: the caller gets the reason; the work's own outcome
      // no longer matters, but its rejection must not go unhandled.
      call.abort(outer.reason);
      result.then(undefined, noop);
      return Promise.reject(outer.reason);
    }
    const promise = new Promise<T>(capture as PromiseExecutor<T>);
    call.resolve = capturedResolve;
    call.reject = capturedReject;
    queue.push(call);
    if (call.deadline < this.timerAt) this.arm(call.deadline, now);
    outer?.addEventListener('abort', call);
    result.then(
      (value) => call.fulfil(value),
      (error: unknown) => call.fail(error),
    );
    return promise;
  }

  /** New settings live: calls in flight keep the timeout they started with. */
  reconfigure(options: Pick<TimeoutOptions, 'timeoutMs'>): void {
    const timeoutMs = parseTimeoutMs(options.timeoutMs);
    if (timeoutMs === this.current.timeoutMs) return;
    const old = this.current;
    const reuse = this.draining.find((q) => q.timeoutMs === timeoutMs);
    this.draining = this.draining.filter((q) => q !== reuse);
    if (old.head) this.draining.push(old);
    this.current = reuse ?? new CallQueue(timeoutMs);
  }

  /** Stops the timer; calls still in flight, and later ones, run without a time limit. */
  dispose(): void {
    this.disposed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.timedOut.dispose();
  }

  private arm(at: number, now: number): void {
    if (this.disposed) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(this.onTimer, Math.max(0, at - now));
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    this.expire(this.current, now);
    if (this.draining.length > 0) {
      for (const q of this.draining) this.expire(q, now);
      this.draining = this.draining.filter((q) => q.head !== null);
    }
    let next = this.current.head?.deadline ?? Number.POSITIVE_INFINITY;
    for (const q of this.draining) next = Math.min(next, q.head!.deadline);
    if (next !== Number.POSITIVE_INFINITY) this.arm(next, now);
  };

  private expire(queue: CallQueue, now: number): void {
    let call = queue.head;
    while (call !== null && call.deadline <= now) {
      const next = call.next;
      queue.remove(call);
      // Rejecting settles the caller's promise; the work's signal listeners run here, and a
      // throwing listener must not stop the others from expiring.
      try {
        call.abort(new TimeoutError(this.resource, queue.timeoutMs));
      } catch {
        // Reported by the listener's EventTarget; the timer carries on.
      }
      if (this.timedOut.hasListeners)
        this.timedOut.fire({ resource: this.resource, timeoutMs: queue.timeoutMs });
      call = next;
    }
  }
}
