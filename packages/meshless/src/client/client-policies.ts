import type { BreakerRegistry } from '@meshless/breaker';
import type { RouteInfo } from '@meshless/canary';
import {
  type Clock,
  type Disposable,
  DisposableStore,
  type Endpoint,
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
  get timeoutMs() {
    return this.settings.timeoutMs;
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
 * overrides) over `defaults/policies` over code defaults. Every stack is built when one of those
 * documents or the route table changes, never on the request path: one for the service, one per
 * operation with an override, and for each route with its own timeout or retry, one per those.
 * A call only looks its stack up. Breakers are per endpoint, sharing one timer across the mesh.
 */
export class ServicePolicies implements ClientPolicies, Disposable {
  private readonly base: OperationStack;
  /** Operations with a `methods.<name>` override. */
  private readonly methods = new Map<string, OperationStack>();
  /** Routes with their own timeout or retry: '' (no override) and each overridden operation. */
  private readonly routeStacks = new Map<RouteInfo, Map<string, OperationStack>>();
  private readonly disposables = new DisposableStore();
  private breakerOn = false;
  /** The routes of the table in force; set by the client when the routes rule changes. */
  private routes: readonly RouteInfo[] = [];

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
    this.base = this.stack(service);
    this.disposables.add(
      rules.onDidChange((c) => {
        if ((c.section === policiesSection && c.name === service) || c.section === defaultsSection)
          this.rebuild();
      }),
    );
    this.rebuild();
  }

  forCall(operation: string | undefined, route?: RouteInfo): CallPolicies {
    const key = operation !== undefined && this.methods.has(operation) ? operation : '';
    const byOperation = route && this.routeStacks.get(route);
    if (byOperation) return byOperation.get(key)!;
    return key === '' ? this.base : this.methods.get(key)!;
  }

  breaker(endpoint: Endpoint): EndpointBreaker | undefined {
    return this.breakerOn ? this.breakers.get(this.service, endpoint.id) : undefined;
  }

  /** The client's route table changed: stacks for the routes with overrides, none for the others. */
  setRoutes(routes: readonly RouteInfo[]): void {
    this.routes = routes;
    this.syncRouteStacks();
  }

  /** The merged settings in force for an operation (for status and tests). */
  settings(operation?: string): MethodPolicies {
    return (
      (operation !== undefined ? this.methods.get(operation) : undefined)?.settings ?? this.base.settings
    );
  }

  dispose(): void {
    this.disposables.dispose();
    this.base.dispose();
    for (const s of this.methods.values()) s.dispose();
    this.methods.clear();
    this.dropRouteStacks(() => true);
  }

  private stack(label: string): OperationStack {
    return new OperationStack(label, this.clock, this.random, this.refused);
  }

  private rebuild(): void {
    const doc = this.rules.get(policiesSection, this.service);
    this.base.apply(this.merged(''));
    const wanted = new Set(doc?.methods ? Object.keys(doc.methods) : []);
    for (const [name, stack] of this.methods) {
      if (!wanted.has(name)) {
        stack.dispose();
        this.methods.delete(name);
      }
    }
    for (const name of wanted) {
      let stack = this.methods.get(name);
      if (!stack) {
        stack = this.stack(`${this.service}.${name}`);
        this.methods.set(name, stack);
      }
      stack.apply(this.merged(name));
    }
    this.syncRouteStacks();
    this.breakerOn = this.base.settings.breaker !== undefined;
    this.breakers.configure(this.service, this.base.settings.breaker);
    this.onDidRebuild?.();
  }

  /** Called after every rebuild (the breaker rule may have come or gone). */
  onDidRebuild: (() => void) | undefined;

  /** Route stacks follow the routes and the policies; a new table brings new RouteInfo objects. */
  private syncRouteStacks(): void {
    const live = new Set(this.routes.filter((r) => r.timeoutMs !== undefined || r.retry !== undefined));
    this.dropRouteStacks((route) => !live.has(route));
    for (const route of live) {
      let byOperation = this.routeStacks.get(route);
      if (!byOperation) {
        byOperation = new Map();
        this.routeStacks.set(route, byOperation);
      }
      for (const [key, stack] of byOperation) {
        if (key !== '' && !this.methods.has(key)) {
          stack.dispose();
          byOperation.delete(key);
        }
      }
      for (const key of ['', ...this.methods.keys()]) {
        let stack = byOperation.get(key);
        if (!stack) {
          stack = this.stack(`${this.service}[${route.name}]${key ? `.${key}` : ''}`);
          byOperation.set(key, stack);
        }
        stack.apply(this.routeMerged(key, route));
      }
    }
  }

  private dropRouteStacks(drop: (route: RouteInfo) => boolean): void {
    for (const [route, byOperation] of this.routeStacks) {
      if (!drop(route)) continue;
      for (const stack of byOperation.values()) stack.dispose();
      this.routeStacks.delete(route);
    }
  }

  /** A route's own timeout/retry over the operation's settings. */
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
}
