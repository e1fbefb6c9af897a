import { balancerSection, hashKeyExtractor } from '@meshless/balancer';
import type { BreakerRegistry } from '@meshless/breaker';
import { routesSection } from '@meshless/canary';
import {
  type CallObserver,
  type Clock,
  type Disposable,
  DisposableStore,
  type Logger,
  type Random,
  type Resolver,
  type RuleStore,
} from '@meshless/core';
import type { MeshMetrics } from '@meshless/metrics';
import { isIdempotentMethod } from '@meshless/retry';
import type { InFlightCounter } from '../in-flight-counter.ts';
import type { PropagatedHeaders } from '../propagation/propagated-headers.ts';
import { attemptStage } from './attempt-stage.ts';
import { ServicePolicies } from './client-policies.ts';
import type { Sender } from './client-ports.ts';
import type { CallHandler } from './client-stage.ts';
import { attachBreakers, markBreaker } from './endpoint-breakers.ts';
import { EndpointGroups } from './endpoint-groups.ts';
import { headersStage } from './headers-stage.ts';
import { OutboundCall } from './outbound-call.ts';
import { policyStage } from './policy-stage.ts';
import type { MeshRequestInit } from './request-init.ts';
import { isReplayable, normalizeHeaders, pathOf, prepareBody } from './request-view.ts';
import { routeStage } from './route-stage.ts';

export interface MeshClientDeps {
  service: string;
  caller: string | undefined;
  localZone: string | undefined;
  localRegion: string | undefined;
  resolver: Resolver;
  rules: RuleStore;
  breakers: BreakerRegistry;
  transport: Sender;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Tracing, metrics and the user's hooks, combined: one scope per call. */
  observer: CallObserver;
  /** For the service-level gauges and counters (endpoints, ejections, budget refusals). */
  metrics?: MeshMetrics;
  /** The mesh's count of calls in flight across its clients (close() drains on it). */
  inFlightCalls?: InFlightCounter;
  /** Headers carried from the request being served (`propagate`); undefined: none named. */
  propagation?: PropagatedHeaders | undefined;
}

export interface MeshClientStatus {
  readonly service: string;
  readonly endpoints: number;
  /** Subsets named by the routes rule that have no healthy endpoint now. */
  readonly emptySubsets: readonly string[];
  /** Endpoints ejected by outlier detection now (all subsets). */
  readonly ejected: readonly string[];
  readonly inFlight: number;
  /** With datacenter failover: the datacenter whose endpoints are served now (undefined: the agent's own). */
  readonly datacenter: string | undefined;
}

/** `mesh.client(service, options)`. */
export interface MeshClientOptions {
  /**
   * Datacenter failover order: calls go to the first datacenter with a healthy instance, and come
   * back when an earlier one has instances again. Default: the mesh's `datacenters`, else the
   * agent's own datacenter only.
   */
  datacenters?: readonly string[];
}

/**
 * `mesh.client('catalog')`: the governed client for one service, kept up to date with its
 * endpoints (discovery) and its routes, balancer and policies rules. A call runs the stages
 * composed here once: route -> headers -> policies -> attempt (see client-stage.ts).
 */
export class MeshClient implements Disposable {
  readonly service: string;
  /** Calls started and not yet answered (for draining). */
  inFlight = 0;
  private readonly groups: EndpointGroups;
  private readonly policies: ServicePolicies;
  private readonly handler: CallHandler;
  private readonly caller: string | undefined;
  private readonly clock: Clock;
  private readonly inFlightCalls: InFlightCounter | undefined;
  private readonly propagation: PropagatedHeaders | undefined;
  private readonly disposables = new DisposableStore();
  private readonly resolver: MeshClientDeps['resolver'];
  private resolved = false;
  private hashKey: (headers: Record<string, string>, path: string) => string | undefined = noHashKey;

  constructor(deps: MeshClientDeps) {
    this.service = deps.service;
    this.resolver = deps.resolver;
    const { rules, service, metrics } = deps;
    this.groups = new EndpointGroups({
      service,
      now: deps.clock.now,
      random: deps.random,
      localZone: deps.localZone,
      localRegion: deps.localRegion,
      logger: deps.logger,
      ...(metrics
        ? {
            onEject: () => {
              const m = metrics.service(service);
              m.ejection();
              const ejected = this.status().ejected.length;
              m.endpoints(this.groups.all.length - ejected, ejected);
            },
          }
        : {}),
    });
    this.setBalancerRule(rules.get(balancerSection, service));
    this.groups.setRoutes(rules.get(routesSection, service));
    this.groups.setEndpoints(deps.resolver.current());
    this.resolved = deps.resolver.current().length > 0;
    this.disposables.add(
      deps.resolver.onDidChange((endpoints) => {
        this.resolved = true;
        const changed = this.groups.setEndpoints(endpoints);
        // Handles are new only for new or changed endpoints: the others keep their breakers.
        attachBreakers(this.groups, this.policies, changed);
        if (deps.metrics) {
          const ejected = this.status().ejected.length;
          deps.metrics.service(service).endpoints(endpoints.length - ejected, ejected);
        }
      }),
    );
    this.disposables.add(
      rules.watch(routesSection, service, (rule) => {
        this.groups.setRoutes(rule);
        this.policies.setRoutes(this.groups.table.routes);
        this.attachBreakers();
        this.policies.onDidRebuild = () => this.attachBreakers();
        this.disposables.add(
          deps.breakers.onDidChangeState((c) => {
            if (c.resource === service && c.endpointId !== undefined) this.markBreaker(c.endpointId);
          }),
        );
        this.attachBreakers();
      }),
    );
    this.disposables.add(rules.watch(balancerSection, service, (rule) => this.setBalancerRule(rule)));
    this.policies = this.disposables.add(
      new ServicePolicies(
        service,
        rules,
        deps.breakers,
        deps.clock,
        deps.random,
        undefined,
        metrics && ((kind) => metrics.service(service).budgetExhausted(kind)),
      ),
    );
    this.policies.setRoutes(this.groups.table.routes);
    this.caller = deps.caller;
    this.clock = deps.clock;
    this.inFlightCalls = deps.inFlightCalls;
    this.propagation = deps.propagation;
    const { clock, random, observer, transport: sender } = deps;
    const endpoints = this.groups;
    const policies = this.policies;
    const route = routeStage({ endpoints, policies, sender, observer, clock, random });
    const headers = headersStage({ caller: deps.caller, clock });
    const limits = policyStage({ service, clock });
    this.handler = route(headers(limits(attemptStage({ endpoints, sender, clock }))));
  }

  /**
   * Calls the service: `fetch('/items/42', { headers })` -> a WHATWG Response. An absolute URL
   * (`http://catalog/items/42`, or a URL object) is taken by its path and query.
   */
  fetch(path: string | URL, init?: MeshRequestInit): Promise<Response> {
    if (!this.resolved) return this.firstFetch(path, init);
    return this.call(path, init ?? {});
  }

  /** The very first call waits for discovery's first answer (or its cached/empty fallback). */
  private async firstFetch(path: string | URL, init?: MeshRequestInit): Promise<Response> {
    this.groups.setEndpoints(await this.resolver.ready());
    this.attachBreakers();
    this.resolved = true;
    return this.call(path, init ?? {});
  }

  private async call(target: string | URL, init: MeshRequestInit): Promise<Response> {
    const path = typeof target === 'string' && target.startsWith('/') ? target : pathOf(target);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = normalizeHeaders(init.headers);
    // Before routing and the hash key, so header routes and stickyBy see what travelled in.
    this.propagation?.addTo(headers);
    // Before routing, so a route can match the content-type fetch would send.
    const sendable = prepareBody(init.body, headers);
    const body = sendable instanceof Promise ? await sendable : sendable;
    const replayable = isReplayable(body);
    const call = new OutboundCall(
      this.service,
      method,
      path,
      headers,
      body as OutboundCall['body'],
      replayable,
      this.caller,
      init.operation,
      init.idempotent === true,
      init.hashKey ?? this.hashKey(headers, path),
      init.signal ?? undefined,
    );
    call.retryable = replayable && (init.idempotent === true || isIdempotentMethod(method));
    call.started = this.clock.now();
    this.inFlight++;
    this.inFlightCalls?.enter();
    try {
      return await this.handler(call);
    } finally {
      this.inFlight--;
      this.inFlightCalls?.leave();
    }
  }

  /** The policy settings in force for an operation (merged from rules and defaults). */
  settings(operation?: string) {
    return this.policies.settings(operation);
  }

  status(): MeshClientStatus {
    const ejected = new Set<string>();
    for (const subset of [undefined, ...this.groups.table.subsets.keys()]) {
      for (const id of this.groups.balancer(subset)?.ejectedIds ?? []) ejected.add(id);
    }
    return {
      service: this.service,
      endpoints: this.groups.all.length,
      emptySubsets: this.groups.empty,
      ejected: [...ejected],
      inFlight: this.inFlight,
      datacenter: this.resolver.stats?.().datacenter,
    };
  }

  dispose(): void {
    this.disposables.dispose();
    this.groups.dispose();
  }

  private attachBreakers(): void {
    attachBreakers(this.groups, this.policies);
  }

  /** An endpoint's breaker changed state: the groups' pickers avoid it while it is open. */
  private markBreaker(endpointId: string): void {
    markBreaker(this.groups, endpointId);
  }

  private setBalancerRule(rule: Parameters<EndpointGroups['setBalancerRule']>[0]): void {
    this.groups.setBalancerRule(rule);
    // Before the policies exist (the constructor), their first rebuild attaches the breakers.
    if (this.policies) this.attachBreakers();
    // No hashOn: no key to read, and no request object to build for it per call.
    if (rule?.hashOn === undefined) {
      this.hashKey = noHashKey;
      return;
    }
    const extract = hashKeyExtractor(rule.hashOn);
    this.hashKey = (headers, path) => extract({ headers, url: path });
  }
}

const noHashKey = (): undefined => undefined;
