import type { CallOutcome, Endpoint, Event, Logger, PickContext, Picker, Random } from '@meshless/core';
import { ConfigError, parseOrThrow, systemRandom } from '@meshless/core';
import { balancerAlgorithm } from './algorithm-registry.ts';
import {
  type BalancerRule,
  balancerRuleSchema,
  isHashAlgorithm,
  type ResolvedBalancerRule,
  resolveBalancerRule,
} from './balancer-rule.ts';
import { BreakerAware } from './breaker-aware.ts';
import type { EndpointHandle } from './endpoint-handle.ts';
import { EndpointStatsStore } from './endpoint-stats.ts';
import { type BalancerFactory, LocalityAware } from './locality.ts';
import { type EjectionEvent, OutlierEjection } from './outlier-ejection.ts';
import { PanicThreshold } from './panic-threshold.ts';
import { SlowStart } from './slow-start.ts';
import type { StatefulBalancer } from './stateful-balancer.ts';

export interface CreateBalancerOptions {
  /** Monotonic milliseconds. Default: `systemClock.now` (or the adopted store's clock). */
  now?: () => number;
  /** Default: `Math.random`. */
  random?: Random;
  /** The caller's zone and region, for locality-aware routing. */
  localZone?: string;
  localRegion?: string;
  /** Stats to adopt (from the balancer this one replaces); default: a new store. */
  stats?: EndpointStatsStore;
  /** EWMA time constant for a new store. Default 10 000 ms. */
  decayMs?: number;
  /** Where background failures are reported (a ring-hash or Maglev table build). Default: nowhere. */
  logger?: Logger;
}

const noEjections: Event<EjectionEvent> = () => ({ dispose() {} });

/**
 * The balancer built from a rule: outlier ejection -> panic threshold -> slow start ->
 * locality -> algorithm, each layer present only when the rule asks for it (outlier ejection
 * unless `outlier: false`: without an `outlier` field it ejects on connect errors only), under
 * breaker awareness (always there; free while no endpoint is marked unavailable). Its pickers
 * return EndpointHandles: `pickHandle()` says so in the type.
 */
export class BalancerStack implements StatefulBalancer {
  readonly rule: ResolvedBalancerRule;
  readonly stats: EndpointStatsStore;
  /** The outlier layer (absent only with `outlier: false`). */
  readonly outlier: OutlierEjection | undefined;
  /** The locality layer, when enabled and the caller's zone is known. */
  readonly locality: LocalityAware | undefined;
  /** The layer that avoids endpoints marked unavailable (open breakers). */
  readonly breakerAware: BreakerAware;
  private readonly top: StatefulBalancer;

  constructor(
    rule: ResolvedBalancerRule,
    top: StatefulBalancer,
    outlier: OutlierEjection | undefined,
    locality: LocalityAware | undefined,
  ) {
    this.rule = rule;
    this.breakerAware = new BreakerAware(top);
    this.top = this.breakerAware;
    this.stats = top.stats;
    this.outlier = outlier;
    this.locality = locality;
  }

  get picker(): Picker {
    return this.top.picker;
  }

  get healthAware(): boolean {
    return this.top.healthAware === true;
  }

  /**
   * `picker.pick(ctx)` typed as what it returns: the endpoint's prepared handle, whose
   * `started()`/`ended()` replace `onCallStart`/`onCallEnd` without a lookup.
   */
  pickHandle<B = unknown>(ctx?: PickContext): EndpointHandle<B> | undefined {
    return this.top.picker.pick(ctx) as EndpointHandle<B> | undefined;
  }

  /** The handle of a known endpoint id (off the call path: e.g. to mark it on a breaker's state change). */
  handleOf<B = unknown>(id: string): EndpointHandle<B> | undefined {
    return this.stats.handleOf(id) as EndpointHandle<B> | undefined;
  }

  /** Ids of the endpoints ejected now (empty without outlier detection). */
  get ejectedIds(): string[] {
    return this.outlier?.ejectedIds ?? [];
  }

  /** Ejections, for metrics (never fires without outlier detection). */
  get onDidEject(): Event<EjectionEvent> {
    return this.outlier?.onDidEject ?? noEjections;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.top.update(endpoints);
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    this.top.rebuild(endpoints);
  }

  onCallStart(endpoint: Endpoint): void {
    this.top.onCallStart(endpoint);
  }

  onCallEnd(endpoint: Endpoint, outcome: CallOutcome): void {
    this.top.onCallEnd(endpoint, outcome);
  }

  dispose(): void {
    this.top.dispose();
  }
}

/** Validates a rule given in code; throws ConfigError naming the field. */
function validate(rule: BalancerRule | ResolvedBalancerRule | undefined): ResolvedBalancerRule {
  if (rule !== undefined && isResolved(rule)) return rule;
  const resolved = resolveBalancerRule(parseOrThrow(balancerRuleSchema, rule ?? {}));
  resolvedRules.add(resolved);
  return resolved;
}

function isResolved(rule: BalancerRule | ResolvedBalancerRule): rule is ResolvedBalancerRule {
  return resolvedRules.has(rule as ResolvedBalancerRule);
}
const resolvedRules = new WeakSet<ResolvedBalancerRule>();

/** Whether a resolved outlier rule still runs the check that made an ejection. */
function checks(rule: NonNullable<ResolvedBalancerRule['outlier']>, reason: string | undefined): boolean {
  if (reason === 'consecutive-errors') return rule.consecutiveErrors > 0;
  if (reason === 'connect-errors') return rule.consecutiveConnectErrors > 0;
  if (reason === 'success-rate') return rule.successRate !== undefined;
  return false;
}

/** The algorithm's factory, from the registry (the rule schema admits registered names only). */
function leafFactory(
  algorithm: string,
  rule: ResolvedBalancerRule,
  deps: { now: () => number; random: Random; logger: Logger | undefined },
): BalancerFactory {
  const entry = balancerAlgorithm(algorithm);
  if (entry === undefined)
    throw new ConfigError(`algorithm: unknown algorithm "${algorithm}"`, { path: 'algorithm' });
  const { now, random, logger } = deps;
  const { ringHash, maglev } = rule;
  return (stats) => entry.create({ stats, now, random, logger, ringHash, maglev });
}

/**
 * Builds the balancer a rule describes (a validated document, a partial rule written in code,
 * or undefined for the defaults). Pass `stats` to keep per-endpoint state from a previous
 * balancer; `rebuildBalancer` does that for you.
 */
export function createBalancer(
  rule: BalancerRule | ResolvedBalancerRule | undefined,
  options: CreateBalancerOptions = {},
): BalancerStack {
  const resolved = validate(rule);
  const stats = options.stats ?? new EndpointStatsStore({ now: options.now, decayMs: options.decayMs });
  const now = options.now ?? stats.now;
  const random = options.random ?? systemRandom;
  // Adopted state that this rule has no layer (or no check) for must not linger.
  const outlierRule = resolved.outlier;
  if (outlierRule === undefined) stats.resetEjections();
  else stats.resetEjections((reason) => checks(outlierRule, reason));
  const slowStart = resolved.slowStartMs > 0 && !isHashAlgorithm(resolved.algorithm);
  if (!slowStart) stats.resetWeightScales();

  const factory = leafFactory(resolved.algorithm, resolved, { now, random, logger: options.logger });
  let locality: LocalityAware | undefined;
  let top: StatefulBalancer;
  if (resolved.locality.enabled && options.localZone !== undefined) {
    locality = new LocalityAware(factory, stats, {
      localZone: options.localZone,
      localRegion: options.localRegion,
      minHealthyPercent: resolved.locality.minHealthyPercent,
      random,
    });
    top = locality;
  } else top = factory(stats);
  if (slowStart) top = new SlowStart(top, { slowStartMs: resolved.slowStartMs, now });
  let outlier: OutlierEjection | undefined;
  if (resolved.outlier !== undefined) {
    top = new PanicThreshold(top, { thresholdPercent: resolved.panicThresholdPercent });
    outlier = new OutlierEjection(top, { ...resolved.outlier, now });
    top = outlier;
  }
  return new BalancerStack(resolved, top, outlier, locality);
}

/**
 * Swaps `previous` for a balancer built from `rule`, carrying its stats (pending counts,
 * latency estimates, errors, ejections, first-seen times) and endpoints over. Disposes
 * `previous`. Throws ConfigError (and keeps `previous`) when the rule is invalid.
 */
export function rebuildBalancer(
  previous: StatefulBalancer,
  rule: BalancerRule | ResolvedBalancerRule | undefined,
  options: Omit<CreateBalancerOptions, 'stats'> = {},
): BalancerStack {
  const resolved = validate(rule);
  const stats = previous.stats;
  previous.dispose();
  const next = createBalancer(resolved, { ...options, stats });
  next.update(stats.endpoints);
  return next;
}
