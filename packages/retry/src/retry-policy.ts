import {
  type Clock,
  Emitter,
  type Event,
  type ExecuteContext,
  firstAttempt,
  type Policy,
  type Random,
  systemClock,
  systemRandom,
} from '@meshless/core';
import { type Classify, httpClassifier } from './classifier.ts';
import { isIdempotentMethod } from './idempotent.ts';
import { RetryBudget, type RetryBudgetRule } from './retry-budget.ts';
import {
  type BudgetExhaustedEvent,
  type GiveUpEvent,
  type RetryEmitters,
  type RetryEvent,
  RetryRun,
  type RetrySettings,
} from './retry-run.ts';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  type RetryRule,
  retryRuleSchema,
  validateRule,
} from './rule-schema.ts';
import { perTryQueue as newPerTryQueue, type PerTryQueue } from './timed-attempt.ts';

/** Rule fields (as in a `policies` document), with `budget` also accepting a shared RetryBudget. */
export interface RetryPolicyRule extends Omit<RetryRule, 'budget'> {
  budget?: RetryBudgetRule | RetryBudget | undefined;
}

export interface RetryPolicyOptions extends RetryPolicyRule {
  /** Names the resource in errors and events. Default 'retry'. */
  resource?: string | undefined;
  clock?: Clock | undefined;
  /** Draws the full-jitter backoff. Default Math.random. */
  random?: Random | undefined;
  /** Replaces the HTTP classifier built from `on` (then `on` is ignored). Fixed for the policy's life. */
  classify?: Classify | undefined;
}

const FIRST: ExecuteContext = firstAttempt;

/**
 * Retries failed work: up to `attempts` tries (1 = no retry) with full-jitter exponential
 * backoff, per-try timeouts, the current deadline (see runWithDeadline) and an optional
 * retry budget. `execute` treats the work as idempotent; for HTTP, take the policy for the
 * request's method with `forRequest(method, idempotent)`.
 *
 * The first attempt is a plain `await`; the p-retry loop is entered only after it failed.
 * Place it outside the breaker and timeout: `wrap(fallback, bulkhead, retry, breaker, timeout)`.
 */
export class RetryPolicy implements Policy {
  private settings: RetrySettings;
  private readonly resource: string;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly customClassify: Classify | undefined;
  /** A budget this policy made from a rule shape (reconfigured in place); not a shared one. */
  private ownBudget: RetryBudget | undefined;
  private readonly emitters: RetryEmitters = {
    retry: new Emitter<RetryEvent>(),
    giveUp: new Emitter<GiveUpEvent>(),
    budgetExhausted: new Emitter<BudgetExhaustedEvent>(),
  };
  private readonly once: Policy;

  /** Before each retry, after the decision. */
  readonly onRetry: Event<RetryEvent> = this.emitters.retry.event;
  /** A call that failed at least once ended without success. */
  readonly onGiveUp: Event<GiveUpEvent> = this.emitters.giveUp.event;
  /** The retry budget denied a retry; the call ends with its last failure. */
  readonly onBudgetExhausted: Event<BudgetExhaustedEvent> = this.emitters.budgetExhausted.event;

  constructor(options: RetryPolicyOptions = {}) {
    this.resource = options.resource ?? 'retry';
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.customClassify = options.classify;
    this.settings = this.build(options);
    this.once = new SingleAttempt(this);
  }

  /** Applies a new rule; calls in flight finish under the settings they started with. */
  reconfigure(rule: RetryPolicyRule): void {
    this.settings = this.build(rule);
  }

  /** The settings new calls start with (immutable). */
  get current(): RetrySettings {
    return this.settings;
  }

  /**
   * The policy to use for one HTTP request: this one for idempotent methods (GET, HEAD,
   * OPTIONS, PUT, DELETE, TRACE) or when the caller declares the call idempotent, otherwise a
   * prepared single-attempt policy (the request still counts toward the budget). No allocation.
   */
  forRequest(method: string, idempotent = false): Policy {
    return idempotent || isIdempotentMethod(method) ? this : this.once;
  }

  async execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    const s = this.settings;
    if (s.budget !== undefined) s.budget.deposit();
    if (s.perTryTimeoutMs !== undefined) {
      const run = new RetryRun(s, fn, signal, this.emitters);
      return s.attempts === 1 ? run.runOnce() : run.runAll();
    }
    if (s.attempts === 1) return fn(signal === undefined ? FIRST : { signal, attempt: 1 });
    let value: T;
    try {
      value = await fn(signal === undefined ? FIRST : { signal, attempt: 1 });
    } catch (error) {
      return new RetryRun(s, fn, signal, this.emitters).continueAfter(error);
    }
    const verdict = s.classify(value, false);
    if (verdict.retry) return new RetryRun(s, fn, signal, this.emitters).continueAfterResult(value, verdict);
    return value;
  }

  private build(options: RetryPolicyRule): RetrySettings {
    const { budget, ...fields } = options as RetryPolicyOptions;
    const ruleFields = {
      attempts: fields.attempts,
      backoff: fields.backoff,
      on: fields.on,
      perTryTimeoutMs: fields.perTryTimeoutMs,
      budget: budget instanceof RetryBudget ? undefined : budget,
    };
    const rule = validateRule(retryRuleSchema, ruleFields, 'retry');
    let resolved: RetryBudget | undefined;
    if (budget instanceof RetryBudget) resolved = budget;
    else if (rule.budget !== undefined) {
      if (this.ownBudget === undefined)
        this.ownBudget = new RetryBudget({ ...rule.budget, clock: this.clock });
      else this.ownBudget.reconfigure(rule.budget);
      resolved = this.ownBudget;
    }
    const perTryTimeoutMs = rule.perTryTimeoutMs;
    // Calls in flight keep the queue of the settings they started with; an unchanged timeout
    // keeps its queue, so a rule push does not leave a second timer behind.
    const previous = this.settings as RetrySettings | undefined;
    let perTryQueue: PerTryQueue | undefined;
    if (perTryTimeoutMs !== undefined) {
      perTryQueue =
        previous?.perTryTimeoutMs === perTryTimeoutMs
          ? previous.perTryQueue
          : newPerTryQueue(perTryTimeoutMs, this.clock);
    }
    return Object.freeze({
      resource: this.resource,
      attempts: rule.attempts ?? DEFAULT_ATTEMPTS,
      baseMs: rule.backoff?.baseMs ?? DEFAULT_BACKOFF_BASE_MS,
      maxMs: rule.backoff?.maxMs ?? DEFAULT_BACKOFF_MAX_MS,
      perTryTimeoutMs,
      perTryQueue,
      classify: this.customClassify ?? httpClassifier({ on: rule.on, clock: this.clock }),
      budget: resolved,
      clock: this.clock,
      random: this.random,
    });
  }
}

/** The non-idempotent variant of a RetryPolicy: one attempt, counted toward the budget. */
class SingleAttempt implements Policy {
  private readonly host: RetryPolicy;
  constructor(host: RetryPolicy) {
    this.host = host;
  }
  async execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    this.host.current.budget?.deposit();
    return fn(signal === undefined ? FIRST : { signal, attempt: 1 });
  }
}
