import type { CircuitBreakerPolicy } from '@meshless/breaker';
import { type Clock, DisposableStore, noopPolicy, type Policy, type Random, wrap } from '@meshless/core';
import { BulkheadPolicy, type FallbackPolicy, RateLimitPolicy, TimeoutPolicy } from '@meshless/limiter';
import { HedgePolicy, RetryBudget, RetryPolicy } from '@meshless/retry';
import { AttemptTimeouts } from '../client/attempt-timeouts.ts';
import type { MethodPolicies } from '../rules/policies.ts';
import type { BreakerLease } from './governance-ports.ts';
import { SwitchableClassifier } from './local-classifier.ts';

/** A policy of the stack, in stack order (outermost first). */
export type LayerKind = 'fallback' | 'rateLimit' | 'bulkhead' | 'retry' | 'hedge' | 'breaker' | 'timeout';

export interface PolicySetOptions {
  /** Named in every policy's errors and events. */
  readonly label: string;
  /**
   * `local`: a decorated method or resource (retries follow localClassifier; the breaker and the
   * timeout are layers of the stack). `remote`: HTTP calls by the governed client (the HTTP
   * classifier; breakers are per endpoint and the timeout bounds each attempt, so both sit inside
   * the attempt: the set gives `timeouts` and leaves them out of the stack).
   */
  readonly scope: 'local' | 'remote';
  readonly clock: Clock;
  readonly random: Random;
  /** Where a `local` set gets its breaker (unused by `remote` sets). */
  readonly breakers?: BreakerLease;
  /** From code only, so it never changes. */
  readonly fallback?: FallbackPolicy | undefined;
  /** Told each time the retry budget refuses a retry or a hedge. */
  readonly onBudgetExhausted?: ((kind: 'retry' | 'hedge') => void) | undefined;
}

/**
 * The policy instances of one resource. `apply()` brings them in line with new settings:
 * a policy whose settings appeared is created, one whose settings changed is reconfigured in
 * place (an open breaker stays open, a retry budget keeps its window, a timeout's calls in
 * flight keep their deadline), one whose settings went away leaves the stack. A policy that
 * left is not disposed: calls still inside it finish under it (a timeout's timer still fires
 * for them) and it is collected after.
 */
export class PolicySet {
  readonly fallback: FallbackPolicy | undefined;
  rateLimit: RateLimitPolicy | undefined;
  bulkhead: BulkheadPolicy | undefined;
  retry: RetryPolicy | undefined;
  hedge: HedgePolicy | undefined;
  /** `retry.budget`, one instance for the retry and the hedge: a switch between them keeps its state. */
  budget: RetryBudget | undefined;
  breaker: CircuitBreakerPolicy | undefined;
  timeout: TimeoutPolicy | undefined;
  /** `remote` sets: the per-attempt timeouts the client applies to each request. */
  timeouts: AttemptTimeouts | undefined;
  /** The stack with retry / hedge, for work that may be repeated. */
  full: Policy = noopPolicy;
  /** The stack without retry and hedge, for work that must not run twice. */
  once: Policy = noopPolicy;
  private readonly options: PolicySetOptions;
  private readonly classifier: SwitchableClassifier | undefined;
  private readonly subscriptions = new DisposableStore();

  constructor(options: PolicySetOptions) {
    this.options = options;
    this.fallback = options.fallback;
    this.classifier =
      options.scope === 'local' ? new SwitchableClassifier(undefined, options.clock) : undefined;
  }

  /**
   * Applies settings that were validated as a whole (methodPoliciesSchema), so no policy
   * rejects its part. With both `retry` and `hedge`, hedging wins (as in gRPC, a call has one
   * or the other): hedged attempts also start at once when the running ones fail; the hedge
   * draws from `retry.budget` if there is one. A retry that cannot retry (`attempts: 1`, no
   * per-try timeout) is no layer. Then the stacks are composed (core `wrap()`), once.
   */
  apply(s: MethodPolicies): void {
    const { label, clock } = this.options;
    const local = this.options.scope === 'local';
    this.classifier?.update(s.retry?.on);
    const classify = this.classifier?.classify;

    if (s.rateLimit === undefined) this.rateLimit = undefined;
    else if (this.rateLimit) this.rateLimit.reconfigure(s.rateLimit);
    else this.rateLimit = new RateLimitPolicy({ ...s.rateLimit, resource: label, clock });

    if (s.bulkhead === undefined) this.bulkhead = undefined;
    else if (this.bulkhead) this.bulkhead.reconfigure(s.bulkhead);
    else this.bulkhead = new BulkheadPolicy({ ...s.bulkhead, resource: label });

    if (s.retry?.budget === undefined) this.budget = undefined;
    else if (this.budget) this.budget.reconfigure(s.retry.budget);
    else this.budget = new RetryBudget({ ...s.retry.budget, clock });
    const budget = this.budget;

    const hedge = s.hedge;
    const retries = (s.retry?.attempts ?? 1) > 1 || s.retry?.perTryTimeoutMs !== undefined;
    const retry = hedge === undefined && retries ? { ...s.retry, budget } : undefined;
    if (retry === undefined) this.retry = undefined;
    else if (this.retry) this.retry.reconfigure(retry);
    else {
      this.retry = this.counted(
        new RetryPolicy({ ...retry, resource: label, clock, random: this.options.random, classify }),
        'retry',
      );
    }

    if (hedge === undefined) this.hedge = undefined;
    else {
      const rule = { ...hedge, budget };
      if (this.hedge) this.hedge.reconfigure(rule);
      else this.hedge = this.counted(new HedgePolicy({ ...rule, resource: label, clock, classify }), 'hedge');
    }

    const breakers = local ? this.options.breakers : undefined;
    if (s.breaker === undefined || breakers === undefined) {
      if (this.breaker) breakers?.release(label);
      this.breaker = undefined;
    } else if (this.breaker) breakers.configure(label, s.breaker);
    else this.breaker = breakers.acquire(label, s.breaker);

    if (s.timeoutMs === undefined) this.timeout = this.timeouts = undefined;
    else if (!local) {
      // A new value gets a new queue; attempts in flight keep the one they started with.
      if (this.timeouts?.timeoutMs !== s.timeoutMs)
        this.timeouts = new AttemptTimeouts(s.timeoutMs, label, clock);
    } else if (this.timeout) this.timeout.reconfigure({ timeoutMs: s.timeoutMs });
    else this.timeout = new TimeoutPolicy({ timeoutMs: s.timeoutMs, resource: label, clock });

    this.full = wrap(...this.layers(true).policies);
    this.once = wrap(...this.layers(false).policies);
  }

  /** Reports the policy's budget refusals (subscribed once per policy: it is reconfigured in place). */
  private counted<P extends RetryPolicy | HedgePolicy>(policy: P, kind: 'retry' | 'hedge'): P {
    const refused = this.options.onBudgetExhausted;
    if (refused) this.subscriptions.add(policy.onBudgetExhausted(() => refused(kind)));
    return policy;
  }

  /**
   * The policies in force, outermost first: fallback, rate limit, bulkhead, retry / hedge,
   * breaker, timeout. `repeat` false leaves retry and hedge out (work that is not idempotent).
   * The timeout is innermost, so it bounds each attempt and the breaker counts timeouts.
   */
  layers(repeat: boolean): { kinds: LayerKind[]; policies: Policy[] } {
    const kinds: LayerKind[] = [];
    const policies: Policy[] = [];
    const add = (kind: LayerKind, policy: Policy | undefined) => {
      if (policy === undefined) return;
      kinds.push(kind);
      policies.push(policy);
    };
    add('fallback', this.fallback);
    add('rateLimit', this.rateLimit);
    add('bulkhead', this.bulkhead);
    if (repeat) {
      add('retry', this.retry);
      add('hedge', this.hedge);
    }
    add('breaker', this.breaker);
    add('timeout', this.timeout);
    return { kinds, policies };
  }

  /** Lets every policy go (the handle is disposed): timers stop, the breaker lease ends. */
  dispose(): void {
    this.subscriptions.dispose();
    if (this.breaker) this.options.breakers?.release(this.options.label);
    this.breaker = undefined;
    this.timeout?.dispose();
    this.bulkhead?.dispose();
    this.rateLimit?.dispose();
    this.fallback?.dispose();
    this.timeout = this.bulkhead = this.rateLimit = undefined;
    this.retry = this.hedge = this.budget = undefined;
    this.timeouts = undefined;
    this.full = this.once = noopPolicy;
  }
}
