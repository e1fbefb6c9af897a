import {
  type Clock,
  Emitter,
  type Event,
  type ExecuteContext,
  firstAttempt,
  type Policy,
  systemClock,
} from '@meshless/core';
import { type Classify, httpClassifier } from './classifier.ts';
import {
  type HedgeBudgetExhaustedEvent,
  HedgedCall,
  type HedgeEmitters,
  type HedgeEvent,
  type HedgeSettings,
} from './hedged-call.ts';
import { isIdempotentMethod } from './idempotent.ts';
import { LatencyTracker, type LatencyTrackerOptions } from './latency-tracker.ts';
import { RetryBudget, type RetryBudgetRule } from './retry-budget.ts';
import {
  DEFAULT_HEDGE_MAX_ATTEMPTS,
  type HedgeRule,
  hedgeRuleSchema,
  retryBudgetRuleSchema,
  validateRule,
} from './rule-schema.ts';

export interface HedgePolicyRule extends HedgeRule {
  /** Hedges draw from this budget (share the service's RetryBudget); a shape makes a private one. */
  budget?: RetryBudgetRule | RetryBudget | undefined;
}

export interface HedgePolicyOptions extends HedgePolicyRule {
  resource?: string | undefined;
  clock?: Clock | undefined;
  /**
   * Which failures let the next attempt start at once (retriable) and which end the call
   * (fatal); results it calls retriable count as failures. Default: the HTTP classifier.
   */
  classify?: Classify | undefined;
  /** Tuning of the 'p95' latency tracking. */
  latency?: LatencyTrackerOptions | undefined;
}

const FIRST: ExecuteContext = firstAttempt;

/**
 * Hedging (gRPC hedging, Dubbo's forking cluster) for idempotent work: if no attempt has
 * succeeded after `delayMs` (fixed, or the p95 latency of recent successful calls), another
 * starts (ctx.attempt 2..maxAttempts) while the first runs; the first success wins and the
 * others are aborted through their signals.
 *
 * Cost: a call that may hedge allocates one AbortController per attempt and one unref'ed
 * timer (cancelled when it ends), also while the budget is spent (a hedge it refuses is
 * counted in onBudgetExhausted); in 'p95' mode before 20 samples or with maxAttempts 1, calls
 * run plain with no timer. `execute` treats the work as
 * idempotent; use `forRequest(method, idempotent)` for HTTP. Use hedging or retry on a
 * call, not both (as gRPC): both would deposit into a shared budget.
 */
export class HedgePolicy implements Policy {
  private settings: HedgeSettings;
  private readonly resource: string;
  private readonly clock: Clock;
  private readonly customClassify: Classify | undefined;
  private ownBudget: RetryBudget | undefined;
  private readonly tracker: LatencyTracker;
  private readonly emitters: HedgeEmitters = {
    hedge: new Emitter<HedgeEvent>(),
    budgetExhausted: new Emitter<HedgeBudgetExhaustedEvent>(),
  };
  private readonly once: Policy;

  /** A further attempt started. */
  readonly onHedge: Event<HedgeEvent> = this.emitters.hedge.event;
  /** The budget denied a hedge. */
  readonly onBudgetExhausted: Event<HedgeBudgetExhaustedEvent> = this.emitters.budgetExhausted.event;

  constructor(options: HedgePolicyOptions = {}) {
    this.resource = options.resource ?? 'hedge';
    this.clock = options.clock ?? systemClock;
    this.customClassify = options.classify;
    this.tracker = new LatencyTracker(options.latency);
    this.settings = this.build(options);
    this.once = { execute: (fn, signal) => this.runOnce(fn, signal) };
  }

  /** Applies a new rule; calls in flight finish under the settings they started with. */
  reconfigure(rule: HedgePolicyRule): void {
    this.settings = this.build(rule);
  }

  get current(): HedgeSettings {
    return this.settings;
  }

  /** The delay a call starting now would hedge after, in ms; undefined: it would not hedge. */
  get delayMs(): number | undefined {
    return this.settings.delayMs ?? this.tracker.value();
  }

  /** This policy for idempotent methods or calls declared idempotent, else a single attempt. */
  forRequest(method: string, idempotent = false): Policy {
    return idempotent || isIdempotentMethod(method) ? this : this.once;
  }

  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    const s = this.settings;
    if (s.budget !== undefined) s.budget.deposit();
    const p95 = s.delayMs === undefined;
    const delayMs = p95 ? this.tracker.value() : s.delayMs;
    // An empty budget still takes the hedged path: the hedge that falls due is refused there and
    // counted (onBudgetExhausted), and the budget may have a token again by then.
    if (s.maxAttempts < 2 || delayMs === undefined) {
      return p95 ? this.runTracked(s, fn, signal) : this.runPlain(fn, signal);
    }
    return new HedgedCall(s, fn, signal, delayMs, this.emitters, p95 ? this.tracker : undefined).promise;
  }

  private async runPlain<T>(
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    signal?: AbortSignal,
  ): Promise<T> {
    return fn(signal === undefined ? FIRST : { signal, attempt: 1 });
  }

  /** One attempt, timed so the p95 delay can be learnt. */
  private async runTracked<T>(
    s: HedgeSettings,
    fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const start = s.clock.now();
    const value = await fn(signal === undefined ? FIRST : { signal, attempt: 1 });
    if (!s.classify(value, false).retry) this.tracker.record(s.clock.now() - start);
    return value;
  }

  private runOnce<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    this.settings.budget?.deposit();
    return this.runPlain(fn, signal);
  }

  private build(options: HedgePolicyRule): HedgeSettings {
    const { budget } = options;
    const rule = validateRule(
      hedgeRuleSchema,
      { delayMs: options.delayMs, maxAttempts: options.maxAttempts },
      'hedge',
    );
    let resolved: RetryBudget | undefined;
    if (budget instanceof RetryBudget) resolved = budget;
    else if (budget !== undefined) {
      validateRule(retryBudgetRuleSchema, { ...budget }, 'hedge.budget');
      if (this.ownBudget === undefined) this.ownBudget = new RetryBudget({ ...budget, clock: this.clock });
      else this.ownBudget.reconfigure(budget);
      resolved = this.ownBudget;
    }
    const delay = rule.delayMs ?? 'p95';
    return Object.freeze({
      resource: this.resource,
      maxAttempts: rule.maxAttempts ?? DEFAULT_HEDGE_MAX_ATTEMPTS,
      delayMs: delay === 'p95' ? undefined : delay,
      classify: this.customClassify ?? httpClassifier({ clock: this.clock }),
      budget: resolved,
      clock: this.clock,
    });
  }
}
