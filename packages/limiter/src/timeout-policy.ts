import {
  type Clock,
  DeadlineEntry,
  DeadlineQueue,
  type Disposable,
  Emitter,
  type Event,
  type ExecuteContext,
  isThenable,
  neverAborted,
  type Policy,
  systemClock,
  TimeoutError,
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

/** Calls with one timeoutMs, in start order, hence in deadline order: one timer per queue. */
type CallQueue = DeadlineQueue<TimedCall>;

/**
 * One call in flight: its queue node, and the ExecuteContext the work gets. The AbortController
 * is created only when the work reads `signal`, so work that never looks at it costs none.
 */
class TimedCall extends DeadlineEntry implements ExecuteContext {
  readonly attempt = 1;
  state = PENDING;
  resolve: (value: unknown) => void = noop;
  reject: (reason: unknown) => void = noop;
  private controller: AbortController | undefined;
  /** Why the call ended early (TimeoutError or the outer signal's reason), for a late `signal` read. */
  private reason: unknown;
  private aborted = false;
  readonly queue: CallQueue;
  readonly outer: AbortSignal | undefined;

  constructor(queue: CallQueue, outer: AbortSignal | undefined) {
    super();
    this.queue = queue;
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
    this.queue.cancel(this);
    this.outer?.removeEventListener('abort', this);
  }
}

/**
 * Rejects with TimeoutError after `timeoutMs` and aborts the work's `ctx.signal`. One timer per
 * timeout value, not per call: calls with the same timeout expire in start order, so they wait
 * in a core DeadlineQueue whose timer is armed for the head only. A call that finishes first
 * just leaves the queue. An outer signal aborts the work too, and the call rejects with its reason.
 */
export class TimeoutPolicy implements Policy, Disposable {
  readonly resource: string;
  private readonly clock: Clock;
  private current: CallQueue;
  /** Queues of earlier settings whose calls are still in flight (reconfigure). */
  private draining: CallQueue[] = [];
  private disposed = false;
  private readonly timedOut = new Emitter<TimeoutEvent>();

  /** Fires for every call that timed out. */
  readonly onDidTimeout: Event<TimeoutEvent> = this.timedOut.event;

  constructor(options: TimeoutOptions) {
    this.resource = options.resource ?? 'timeout';
    this.clock = options.clock ?? systemClock;
    this.current = this.queueFor(parseTimeoutMs(options.timeoutMs));
  }

  get timeoutMs(): number {
    return this.current.timeoutMs;
  }

  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    const outer = signal === undefined || signal === neverAborted ? undefined : signal;
    if (outer?.aborted) return Promise.reject(outer.reason);
    const queue = this.current;
    const now = this.clock.now();
    const call = new TimedCall(queue, outer);
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
    // Timed from before the work started, as a caller measures it.
    queue.add(call, now);
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
    // An emptied queue has no timer left (DeadlineQueue re-arms only for waiting entries).
    this.draining = this.draining.filter((q) => q !== reuse && q.size > 0);
    if (old.size > 0) this.draining.push(old);
    this.current = reuse ?? this.queueFor(timeoutMs);
  }

  /** Stops the timers; calls still in flight, and later ones, run without a time limit. */
  dispose(): void {
    this.disposed = true;
    this.current.dispose();
    for (const q of this.draining) q.dispose();
    this.draining = [];
    this.timedOut.dispose();
  }

  private queueFor(timeoutMs: number): CallQueue {
    const queue = new DeadlineQueue<TimedCall>(timeoutMs, (call) => this.expire(call, timeoutMs), this.clock);
    if (this.disposed) queue.dispose();
    return queue;
  }

  private expire(call: TimedCall, timeoutMs: number): void {
    // Rejecting settles the caller's promise; the work's signal listeners run here, and a
    // throwing listener must not stop the others from expiring.
    try {
      call.abort(new TimeoutError(this.resource, timeoutMs));
    } catch {
      // Reported by the listener's EventTarget; the queue carries on.
    }
    if (this.timedOut.hasListeners) this.timedOut.fire({ resource: this.resource, timeoutMs });
  }
}
