import type { Clock, Emitter, ExecuteContext, TimerHandle } from '@meshless/core';
import type { Classify } from './classifier.ts';
import type { LatencyTracker } from './latency-tracker.ts';
import type { RetryBudget } from './retry-budget.ts';

/** An immutable snapshot of a HedgePolicy's configuration. */
export interface HedgeSettings {
  readonly resource: string;
  readonly maxAttempts: number;
  /** Fixed delay, or undefined for 'p95'. */
  readonly delayMs: number | undefined;
  readonly classify: Classify;
  readonly budget: RetryBudget | undefined;
  readonly clock: Clock;
}

/** Fired when a further attempt starts while others may still run. */
export interface HedgeEvent {
  readonly resource: string;
  /** The attempt starting (2 for the first hedge). */
  readonly attempt: number;
  /** 'delay': the hedge delay passed; 'failure': every running attempt failed, so the next starts now. */
  readonly reason: 'delay' | 'failure';
}

/**
 * Fired when the budget denies a hedge; the call goes on with the attempts already running. Once
 * per attempt not sent (a hedge refused when its delay passed and again when the running attempts
 * failed is one refusal).
 */
export interface HedgeBudgetExhaustedEvent {
  readonly resource: string;
  readonly attempt: number;
}

export interface HedgeEmitters {
  readonly hedge: Emitter<HedgeEvent>;
  readonly budgetExhausted: Emitter<HedgeBudgetExhaustedEvent>;
}

/** Marks a settled attempt's slot. */
const DONE = new AbortController();

// Shared reason for aborting losers: aborting with a fresh DOMException costs ~5 µs.
let lostReason: DOMException | undefined;
function hedgeLost(): DOMException {
  lostReason ??= new DOMException('another hedged attempt won', 'AbortError');
  return lostReason;
}

/**
 * One hedged call. Attempt 1 starts at once; each `delayMs` while no attempt has won, the
 * next starts (budget permitting). The first success wins and the others are aborted; a
 * failure that is not retriable ends the call at once; when every attempt failed, the last
 * failure ends it. At most one timer is pending at any time.
 */
export class HedgedCall<T> {
  readonly promise: Promise<T>;
  private resolve!: (value: T) => void;
  private reject!: (error: unknown) => void;
  private readonly s: HedgeSettings;
  private readonly fn: (ctx: ExecuteContext) => PromiseLike<T> | T;
  private readonly parent: AbortSignal | undefined;
  private readonly delayMs: number;
  private readonly emitters: HedgeEmitters;
  private readonly tracker: LatencyTracker | undefined;
  private readonly controllers: AbortController[] = [];
  private readonly starts: number[] = [];
  private timer: TimerHandle | undefined;
  private running = 0;
  private done = false;
  /** The attempt the budget refused last: refused again on failure, it is counted once. */
  private refused = 0;

  constructor(
    s: HedgeSettings,
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    parent: AbortSignal | undefined,
    delayMs: number,
    emitters: HedgeEmitters,
    tracker: LatencyTracker | undefined,
  ) {
    this.s = s;
    this.fn = fn;
    this.parent = parent;
    this.delayMs = delayMs;
    this.emitters = emitters;
    this.tracker = tracker;
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (parent?.aborted) {
      this.done = true;
      this.reject(parent.reason);
      return;
    }
    parent?.addEventListener('abort', this);
    this.launch();
  }

  /** The parent signal aborted (EventListener object: no closure per call). */
  handleEvent(): void {
    if (!this.done) this.end(this.parent!.reason, true, this.parent!.reason);
  }

  private launch(reason?: HedgeEvent['reason']): void {
    const index = this.controllers.length;
    const controller = new AbortController();
    this.controllers.push(controller);
    this.starts.push(this.tracker === undefined ? 0 : this.s.clock.now());
    this.running++;
    if (index + 1 < this.s.maxAttempts) this.schedule();
    let pending: PromiseLike<T> | T;
    try {
      pending = this.fn(
        reason === undefined
          ? { signal: controller.signal, attempt: index + 1 }
          : { signal: controller.signal, attempt: index + 1, hedge: reason },
      );
    } catch (error) {
      pending = Promise.reject(error);
    }
    Promise.resolve(pending).then(
      (value) => this.settle(index, value, false),
      (error: unknown) => this.settle(index, error, true),
    );
  }

  private schedule(): void {
    this.timer?.cancel();
    this.timer = this.s.clock.setTimeout(() => {
      this.timer = undefined;
      if (!this.done) this.hedge('delay');
    }, this.delayMs);
  }

  /** Starts the next attempt if the budget allows; false when it does not. */
  private hedge(reason: HedgeEvent['reason']): boolean {
    const attempt = this.controllers.length + 1;
    if (this.s.budget !== undefined && !this.s.budget.tryWithdraw()) {
      if (this.refused === attempt) return false;
      this.refused = attempt;
      if (this.emitters.budgetExhausted.hasListeners) {
        this.emitters.budgetExhausted.fire({ resource: this.s.resource, attempt });
      }
      return false;
    }
    if (this.emitters.hedge.hasListeners)
      this.emitters.hedge.fire({ resource: this.s.resource, attempt, reason });
    this.launch(reason);
    return true;
  }

  private settle(index: number, value: unknown, failed: boolean): void {
    if (this.done) return;
    this.running--;
    this.controllers[index] = DONE; // settled: not to be aborted as a loser
    const verdict = this.s.classify(value, failed);
    if (!failed && !verdict.retry) {
      if (this.tracker !== undefined) this.tracker.record(this.s.clock.now() - this.starts[index]!);
      this.end(value, false);
      return;
    }
    // A fatal failure (a 404, a bug) would fail on every attempt: end now, as gRPC does.
    if (failed && !verdict.retry) {
      this.end(value, true);
      return;
    }
    if (this.running > 0) return; // others still run; the timer may add more
    if (this.controllers.length < this.s.maxAttempts) {
      this.timer?.cancel();
      this.timer = undefined;
      if (this.hedge('failure')) return;
    }
    this.end(value, failed);
  }

  /** Settles the call: rejects with `value` if `failed`, else resolves; aborts what still runs. */
  private end(value: unknown, failed: boolean, abortReason: unknown = hedgeLost()): void {
    this.done = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.parent?.removeEventListener('abort', this);
    for (const c of this.controllers) if (c !== DONE) c.abort(abortReason);
    if (failed) this.reject(value);
    else this.resolve(value as T);
  }
}
