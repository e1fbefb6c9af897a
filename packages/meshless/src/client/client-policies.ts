import type { BreakerRegistry } from '@meshless/breaker';
import type { RouteInfo } from '@meshless/canary';
import {
  type Clock,
  type Disposable,
  DisposableStore,
  type Endpoint,
  ownValue,
  type Random,
  type RuleStore,
} from '@meshless/core';
import { mergeSettings, settingsLayers } from '../governance/merge-settings.ts';
import { PolicySet } from '../governance/policy-set.ts';
import { defaultsSection, type MethodPolicies, policiesSection } from '../rules/policies.ts';
import type { CallPolicies, ClientPolicies, EndpointBreaker } from './client-ports.ts';

/** Told each time the retry budget refuses a retry or a hedge (the metric's `kind`). */
export type BudgetRefusal = (kind: 'retry' | 'hedge') => void;

/** The policies of one operation (or the service as a whole), with the settings they were built from. */
class OperationStack implements CallPolicies {
  settings: MethodPolicies = {};
  private readonly set: PolicySet;

  constructor(label: string, clock: Clock, random: Random, refused: BudgetRefusal | undefined) {
    this.set = new PolicySet({ label, scope: 'remote', clock, random, onBudgetExhausted: refused });
  }

  get full() {
    return this.set.full;
  }
  get once() {
    return this.set.once;
  }
  get timeouts() {
    return this.set.timeouts;
  }

  /** Applies new settings; the policy objects that stay are reconfigured (their state survives). */
  apply(settings: MethodPolicies): void {
    this.settings = settings;
    this.set.apply(settings);
  }

  dispose(): void {
    this.set.dispose();
  }
}

/**
 * The policies for calls to one service, from `services/<svc>/policies` (with `methods.<name>`
 * overrides) over `defaults/policies` over code defaults. Rebuilt when one of those documents
 * changes, never per call. Breakers are per endpoint, sharing one timer across the mesh.
 */
export class ServicePolicies implements ClientPolicies, Disposable {
  private readonly stacks = new Map<string, OperationStack>();
  private readonly disposables = new DisposableStore();
  private breakerOn = false;
  private readonly routeStacks = new Map<
    RouteInfo,
    { stack: OperationStack; operation: string; route: RouteInfo }
  >();
  /** The routes of the table in force; set by the client when the routes rule changes. */
  private liveRoutes: ReadonlySet<RouteInfo> = new Set();

  constructor(
    private readonly service: string,
    private readonly rules: RuleStore,
    private readonly breakers: BreakerRegistry,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly codeDefaults: MethodPolicies = {},
    /** Counts budget refusals (the client's `retry_budget_exhausted` metric). */
    private readonly refused?: BudgetRefusal,
  ) {
    this.disposables.add(
      rules.onDidChange((c) => {
        if ((c.section === policiesSection && c.name === service) || c.section === defaultsSection)
          this.rebuild();
      }),
    );
    this.rebuild();
  }

  forCall(operation: string | undefined, route?: RouteInfo): CallPolicies {
    const stack =
      route && (route.timeoutMs !== undefined || route.retry !== undefined)
        ? this.routeStack(operation, route)
        : this.stackFor(operation);
    return stack;
  }

  breaker(endpoint: Endpoint): EndpointBreaker | undefined {
    return this.breakerOn ? this.breakers.get(this.service, endpoint.id) : undefined;
  }

  timeoutMs(operation: string | undefined): number | undefined {
    return this.stackFor(operation).settings.timeoutMs;
  }

  /** The client's route table changed: forget the stacks of routes that are gone. */
  setRoutes(routes: readonly RouteInfo[]): void {
    this.liveRoutes = new Set(routes);
    for (const [route, entry] of this.routeStacks) {
      if (!this.liveRoutes.has(route)) {
        entry.stack.dispose();
        this.routeStacks.delete(route);
      }
    }
  }

  /** The merged settings in force for an operation (for status and tests). */
  settings(operation?: string): MethodPolicies {
    return this.stackFor(operation).settings;
  }

  dispose(): void {
    this.disposables.dispose();
    for (const s of this.stacks.values()) s.dispose();
    this.stacks.clear();
    for (const s of this.routeStacks.values()) s.stack.dispose();
    this.routeStacks.clear();
  }

  private stackFor(operation: string | undefined): OperationStack {
    const key = operation ?? '';
    let stack = this.stacks.get(key);
    if (!stack) {
      const doc = this.rules.get(policiesSection, this.service);
      // Only operations with an override get a stack of their own.
      if (key !== '' && !ownValue(doc?.methods, key)) return this.stackFor(undefined);
      stack = new OperationStack(
        `${this.service}${key ? `.${key}` : ''}`,
        this.clock,
        this.random,
        this.refused,
      );
      stack.apply(this.merged(key));
      this.stacks.set(key, stack);
    }
    return stack;
  }

  /** A route's own timeout/retry over the operation's settings; one stack per route version. */
  private routeStack(operation: string | undefined, route: RouteInfo): OperationStack {
    let entry = this.routeStacks.get(route);
    if (!entry || entry.operation !== (operation ?? '')) {
      entry?.stack.dispose();
      const stack = new OperationStack(
        `${this.service}[${route.name}]`,
        this.clock,
        this.random,
        this.refused,
      );
      entry = { stack, operation: operation ?? '', route };
      stack.apply(this.routeMerged(entry.operation, route));
      this.routeStacks.set(route, entry);
    }
    return entry.stack;
  }

  private routeMerged(operation: string, route: RouteInfo): MethodPolicies {
    const override: Record<string, unknown> = {};
    if (route.timeoutMs !== undefined) override.timeoutMs = route.timeoutMs;
    if (route.retry !== undefined) override.retry = route.retry;
    return mergeSettings([this.merged(operation), override]);
  }

  private merged(operation: string): MethodPolicies {
    const docs = {
      defaults: this.rules.get(defaultsSection),
      document: this.rules.get(policiesSection, this.service),
    };
    return mergeSettings(settingsLayers(this.codeDefaults, docs, operation));
  }

  private rebuild(): void {
    const doc = this.rules.get(policiesSection, this.service);
    for (const [key, stack] of this.stacks) {
      if (key !== '' && !ownValue(doc?.methods, key)) {
        stack.dispose();
        this.stacks.delete(key);
      } else stack.apply(this.merged(key));
    }
    // Route stacks follow the policies too; those of replaced route tables are dropped (a new
    // table brings new RouteInfo objects).
    for (const [route, entry] of this.routeStacks) {
      if (!this.liveRoutes.has(route)) {
        entry.stack.dispose();
        this.routeStacks.delete(route);
      } else entry.stack.apply(this.routeMerged(entry.operation, route));
    }
    const base = this.stackFor(undefined);
    this.breakerOn = base.settings.breaker !== undefined;
    this.breakers.configure(this.service, base.settings.breaker);
  }
}
