import {
  BulkheadFullError,
  contextFor,
  type Disposable,
  Emitter,
  type Event,
  type ExecuteContext,
  isThenable,
  neverAborted,
  type Policy,
} from '@meshless/core';
import { BULKHEAD_KEYS, type BulkheadRule, bulkheadRuleSchema, parseRule } from './limiter-rules.ts';

export interface BulkheadOptions extends BulkheadRule {
  /** Named in errors and events. Default 'bulkhead'. */
  resource?: string;
}

export interface BulkheadRejection {
  readonly resource: string;
  readonly active: number;
  readonly queued: number;
}

export const BULKHEAD_DEFAULTS = Object.freeze({ maxConcurrent: 100, maxQueue: 50 });

type Work = (ctx: ExecuteContext) => unknown;

/** A caller waiting for a slot; also its own abort listener (no closure per waiter). */
class Waiter {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  resolve: (value: unknown) => void = noop;
  reject: (reason: unknown) => void = noop;
  readonly fn: Work;
  readonly signal: AbortSignal | undefined;
  private readonly owner: BulkheadPolicy;

  constructor(owner: BulkheadPolicy, fn: Work, signal: AbortSignal | undefined) {
    this.owner = owner;
    this.fn = fn;
    this.signal = signal;
  }

  handleEvent(): void {
    this.owner.abandon(this);
  }
}

const noop = (): void => {};
let capturedResolve: (value: unknown) => void = noop;
let capturedReject: (reason: unknown) => void = noop;
function capture(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * Limits calls running at once to `maxConcurrent`; up to `maxQueue` more wait in FIFO order,
 * and beyond that callers get BulkheadFullError at once. A waiting caller whose signal aborts
 * leaves the queue and rejects with the signal's reason.
 */
export class BulkheadPolicy implements Policy, Disposable {
  readonly resource: string;
  private maxConcurrent: number;
  private maxQueue: number;
  private running = 0;
  private waiting = 0;
  private head: Waiter | null = null;
  private tail: Waiter | null = null;
  private draining = false;
  private readonly rejected = new Emitter<BulkheadRejection>();

  /** Fires for every caller turned away because the bulkhead and its queue were full. */
  readonly onDidReject: Event<BulkheadRejection> = this.rejected.event;

  constructor(options: BulkheadOptions = {}) {
    const rule = parseRule('bulkhead', bulkheadRuleSchema, BULKHEAD_KEYS, options);
    this.resource = options.resource ?? 'bulkhead';
    this.maxConcurrent = rule.maxConcurrent ?? BULKHEAD_DEFAULTS.maxConcurrent;
    this.maxQueue = rule.maxQueue ?? BULKHEAD_DEFAULTS.maxQueue;
  }

  /** Calls running now. */
  get active(): number {
    return this.running;
  }

  /** Callers waiting for a slot now. */
  get queued(): number {
    return this.waiting;
  }

  get options(): { readonly maxConcurrent: number; readonly maxQueue: number } {
    return { maxConcurrent: this.maxConcurrent, maxQueue: this.maxQueue };
  }

  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    if (this.running < this.maxConcurrent && this.head === null) {
      this.running++;
      return this.run(fn, signal);
    }
    return this.enqueue(fn, signal);
  }

  /**
   * New limits live. Running calls keep their slots (a lower limit admits no one until enough
   * have finished); a higher limit starts waiting callers at once; callers already waiting stay.
   */
  reconfigure(options: BulkheadRule): void {
    const rule = parseRule('bulkhead', bulkheadRuleSchema, BULKHEAD_KEYS, options);
    this.maxConcurrent = rule.maxConcurrent ?? BULKHEAD_DEFAULTS.maxConcurrent;
    this.maxQueue = rule.maxQueue ?? BULKHEAD_DEFAULTS.maxQueue;
    this.drain();
  }

  dispose(): void {
    this.rejected.dispose();
  }

  /** @internal A waiter's signal aborted. */
  abandon(waiter: Waiter): void {
    this.unlink(waiter);
    waiter.reject(waiter.signal!.reason);
  }

  private run<T>(
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    let result: PromiseLike<T> | T;
    try {
      result = fn(contextFor(signal));
    } catch (error) {
      this.release();
      return Promise.reject(error);
    }
    if (isThenable(result)) return Promise.resolve(result).then(this.releaseOk, this.releaseError);
    this.release();
    return Promise.resolve(result);
  }

  private readonly releaseOk = <V>(value: V): V => {
    this.release();
    return value;
  };

  private readonly releaseError = (error: unknown): never => {
    this.release();
    throw error;
  };

  private release(): void {
    this.running--;
    if (this.head !== null) this.drain();
  }

  private enqueue<T>(
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const live = signal === undefined || signal === neverAborted ? undefined : signal;
    if (live?.aborted) return Promise.reject(live.reason);
    if (this.waiting >= this.maxQueue) {
      if (this.rejected.hasListeners) {
        this.rejected.fire({ resource: this.resource, active: this.running, queued: this.waiting });
      }
      return Promise.reject(new BulkheadFullError(this.resource));
    }
    const waiter = new Waiter(this, fn as Work, live);
    const promise = new Promise<T>(
      capture as (resolve: (v: T) => void, reject: (e: unknown) => void) => void,
    );
    waiter.resolve = capturedResolve;
    waiter.reject = capturedReject;
    waiter.prev = this.tail;
    if (this.tail) this.tail.next = waiter;
    else this.head = waiter;
    this.tail = waiter;
    this.waiting++;
    live?.addEventListener('abort', waiter);
    return promise;
  }

  private drain(): void {
    // A synchronous work item releases inside run(); the flag keeps that from recursing.
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.head !== null && this.running < this.maxConcurrent) {
        const waiter = this.head;
        this.unlink(waiter);
        this.running++;
        waiter.resolve(this.run(waiter.fn, waiter.signal));
      }
    } finally {
      this.draining = false;
    }
  }

  private unlink(waiter: Waiter): void {
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.tail = waiter.prev;
    waiter.prev = null;
    waiter.next = null;
    this.waiting--;
    waiter.signal?.removeEventListener('abort', waiter);
  }
}
