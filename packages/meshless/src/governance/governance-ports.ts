import type { BreakerRule, CircuitBreakerPolicy, CircuitStateChange } from '@meshless/breaker';
import type { Clock, Event, Logger, Random, RuleStore } from '@meshless/core';
import type { GovernedPolicy } from './governed-policy.ts';

// What the policy handles need from the Governor that makes them; implemented by governor.ts.

/** How a PolicySet gets its breaker: breakers live in a registry, by resource name. */
export interface BreakerLease {
  /** Starts using the resource's breaker (created on first use), configured with `rule`. */
  acquire(label: string, rule: BreakerRule): CircuitBreakerPolicy;
  /** Applies a new rule to the resource's breaker, live. */
  configure(label: string, rule: BreakerRule): void;
  /** This set no longer uses the resource's breaker. */
  release(label: string): void;
}

/** What a handle needs from the Governor that made it. @internal */
export interface GovernorHost {
  readonly rules: RuleStore;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly breakers: BreakerLease;
  readonly onDidChangeBreakerState: Event<CircuitStateChange>;
  forget(handle: GovernedPolicy): void;
  /** Wraps each decorated call (tracing span, metrics); absent: calls run bare. */
  readonly instrument?: CallInstrument | undefined;
}

/** Observes decorated calls: `call(resource, run)` must return what `run()` returns. */
export interface CallInstrument {
  call<T>(resource: string, run: () => Promise<T>): Promise<T>;
}
