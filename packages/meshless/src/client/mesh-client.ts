import { balancerSection, hashKeyExtractor } from '@meshless/balancer';
import type { BreakerRegistry } from '@meshless/breaker';
import { routesSection } from '@meshless/canary';
import {
  type Clock,
  type Disposable,
  DisposableStore,
  type Endpoint,
  type Logger,
  type Random,
  type Resolver,
  type RuleStore,
} from '@meshless/core';
import type { MeshMetrics } from '@meshless/metrics';
import type { MeshTracer } from '@meshless/tracing';
import { ServicePolicies } from './client-policies.ts';
import { EndpointGroups } from './endpoint-groups.ts';
import { type ClientObserver, type MeshRequestInit, ServiceClient } from './service-client.ts';
import type { Transport } from './transport.ts';

export interface MeshClientDeps {
  service: string;
  caller: string | undefined;
  localZone: string | undefined;
  localRegion: string | undefined;
  resolver: Resolver & {
    ready(): Promise<readonly Endpoint[]>;
    stats?(): { readonly datacenter: string | undefined };
  };
  rules: RuleStore;
  breakers: BreakerRegistry;
  transport: Transport;
  clock: Clock;
  random: Random;
  logger: Logger;
  observer?: ClientObserver;
  tracer?: MeshTracer;
  metrics?: MeshMetrics;
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
 * endpoints (discovery) and its routes, balancer and policies rules.
 */
export class MeshClient implements Disposable {
  readonly service: string;
  private readonly groups: EndpointGroups;
  private readonly policies: ServicePolicies;
  private readonly client: ServiceClient;
  private readonly disposables = new DisposableStore();
  private readonly resolver: MeshClientDeps['resolver'];
  private resolved = false;
  private hashKey: (headers: Record<string, string>, path: string) => string | undefined = () => undefined;

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
        this.groups.setEndpoints(endpoints);
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
    this.client = new ServiceClient({
      service,
      caller: deps.caller,
      groups: this.groups,
      policies: this.policies,
      transport: deps.transport,
      clock: deps.clock,
      random: deps.random,
      logger: deps.logger,
      hashKey: (headers, path) => this.hashKey(headers, path),
      ...(deps.observer ? { observer: deps.observer } : {}),
      ...(deps.tracer ? { tracer: deps.tracer } : {}),
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    });
  }

  /**
   * Calls the service: `fetch('/items/42', { headers })` -> a WHATWG Response. An absolute URL
   * (`http://catalog/items/42`, or a URL object) is taken by its path and query.
   */
  fetch(path: string | URL, init?: MeshRequestInit): Promise<Response> {
    if (!this.resolved) return this.firstFetch(path, init);
    return this.client.fetch(path, init);
  }

  /** The very first call waits for discovery's first answer (or its cached/empty fallback). */
  private async firstFetch(path: string | URL, init?: MeshRequestInit): Promise<Response> {
    this.groups.setEndpoints(await this.resolver.ready());
    this.resolved = true;
    return this.client.fetch(path, init);
  }

  get inFlight(): number {
    return this.client.inFlight;
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
      inFlight: this.client.inFlight,
      datacenter: this.resolver.stats?.().datacenter,
    };
  }

  dispose(): void {
    this.disposables.dispose();
    this.groups.dispose();
  }

  private setBalancerRule(rule: Parameters<EndpointGroups['setBalancerRule']>[0]): void {
    this.groups.setBalancerRule(rule);
    const extract = hashKeyExtractor(rule?.hashOn);
    this.hashKey = (headers, path) => extract({ headers, url: path });
  }
}
