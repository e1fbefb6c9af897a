import { ConfigError, type Disposable, type RuleStore } from '@meshless/core';
import { AuthorizationMetrics } from './authorization-metrics.ts';
import { BreakerGauges, type BreakerState } from './breaker-gauges.ts';
import { type OutcomeRecorder, ResourceRecorder, type StatusRecorder } from './call-recorders.ts';
import { type ClientFamilies, ClientServiceMetrics } from './client-service-metrics.ts';
import { CounterFamily } from './counter-family.ts';
import type { AnyRegistry } from './family.ts';
import {
  type GoldenSignals,
  GoldenSignalsView,
  type SignalsIdentity,
  type TargetHealthSignals,
} from './golden-signals.ts';
import { HistogramFamily } from './histogram-family.ts';
import { createMetricsHandler, type MetricsHandler } from './metrics-handler.ts';
import type { Outcome } from './outcome.ts';
import { Gauge, Registry } from './prom.ts';
import { RuleMetrics } from './rule-metrics.ts';
import { ServerServiceMetrics } from './server-service-metrics.ts';

export interface MeshMetricsOptions {
  /** Where the metrics live. Default: a registry of their own (pass prom-client's `register` to share the global one). */
  registry?: AnyRegistry;
  /** Prefix of every metric name. Default `meshless_`. */
  prefix?: string;
  /** Duration histogram buckets, in seconds. Default DEFAULT_SECONDS_BUCKETS (1 ms .. 10 s). */
  buckets?: readonly number[];
  /** Label client calls and breakers with the endpoint (`address:port`). Off by default: one series per instance. */
  endpointLabels?: boolean;
}

/** Every metric name, after the prefix (docs/metrics.md describes each). */
export const METRIC_NAMES: readonly string[] = Object.freeze([
  'client_requests_total',
  'client_request_duration_seconds',
  'client_retries_total',
  'client_hedges_total',
  'client_retry_budget_exhausted_total',
  'client_rejected_total',
  'outlier_ejections_total',
  'endpoints_healthy',
  'endpoints_ejected',
  'server_requests_total',
  'server_request_duration_seconds',
  'server_rejected_total',
  'resource_calls_total',
  'resource_call_duration_seconds',
  'resource_fallbacks_total',
  'breaker_state',
  'breakers',
  'breaker_transitions_total',
  'rule_applied_index',
  'rule_rejected_total',
  'rules_held',
  'inbound_authorization_total',
  'inbound_plaintext_requests_total',
]);

/**
 * meshless's Prometheus metrics (docs/metrics.md lists them all). Hot paths use prepared
 * recorders: `clientCall(service, method, subset)` once, `record(outcome, seconds)` per call.
 */
export class MeshMetrics {
  readonly registry: AnyRegistry;
  readonly prefix: string;
  readonly endpointLabels: boolean;
  private readonly client: ClientFamilies;
  private readonly server: { totals: CounterFamily; durations: HistogramFamily; rejected: CounterFamily };
  private readonly resource: { totals: CounterFamily; durations: HistogramFamily; fallbacks: CounterFamily };
  private readonly clients = new Map<string, ClientServiceMetrics>();
  private readonly servers = new Map<string, ServerServiceMetrics>();
  private readonly resources = new Map<string, ResourceRecorder>();
  private readonly breakers: BreakerGauges;
  private readonly rules: RuleMetrics;
  private readonly authorization: AuthorizationMetrics;
  private readonly golden: GoldenSignalsView;

  constructor(options: MeshMetricsOptions = {}) {
    const p = options.prefix ?? 'meshless_';
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(p)) {
      throw new ConfigError(`prefix "${p}" is not a valid start of a Prometheus metric name`, {
        path: 'prefix',
      });
    }
    const registry: AnyRegistry = options.registry ?? new Registry();
    // All or nothing: a clash found halfway would leave half the metrics in the user's registry.
    const taken = METRIC_NAMES.map((n) => `${p}${n}`).filter(
      (n) => registry.getSingleMetric(n) !== undefined,
    );
    if (taken.length > 0) {
      throw new ConfigError(
        `metrics already registered: ${taken.join(', ')} (two MeshMetrics on one registry need distinct prefixes)`,
        { path: 'registry' },
      );
    }
    const ep = options.endpointLabels === true;
    const buckets = options.buckets;
    const counter = (name: string, help: string, labelNames: string[]) =>
      new CounterFamily({ name: `${p}${name}`, help, labelNames }).registerIn(registry);
    const histogram = (name: string, help: string, labelNames: string[]) =>
      new HistogramFamily({
        name: `${p}${name}`,
        help,
        labelNames,
        ...(buckets ? { buckets } : {}),
      }).registerIn(registry);
    const gauge = (name: string, help: string) =>
      new Gauge<'service'>({ name: `${p}${name}`, help, labelNames: ['service'], registers: [registry] });

    const callLabels = ep
      ? ['service', 'method', 'subset', 'endpoint', 'outcome']
      : ['service', 'method', 'subset', 'outcome'];
    this.client = {
      requests: counter(
        'client_requests_total',
        'Governed calls to a service, by how they ended',
        callLabels,
      ),
      durations: histogram(
        'client_request_duration_seconds',
        'Duration of governed calls to a service, all attempts included',
        callLabels,
      ),
      retries: counter('client_retries_total', 'Retries started, by what failed', ['service', 'reason']),
      hedges: counter('client_hedges_total', 'Hedged attempts started', ['service', 'reason']),
      budgetExhausted: counter(
        'client_retry_budget_exhausted_total',
        'Retries or hedges denied by the retry budget',
        ['service', 'kind'],
      ),
      rejected: counter('client_rejected_total', 'Calls or attempts refused on the client side', [
        'service',
        'reason',
      ]),
      ejections: counter('outlier_ejections_total', 'Endpoints ejected by outlier detection', ['service']),
      healthy: gauge('endpoints_healthy', 'Endpoints of the service that calls may use'),
      ejected: gauge('endpoints_ejected', 'Endpoints of the service ejected by outlier detection'),
    };
    const serverLabels = ['service', 'method', 'status_class'];
    this.server = {
      totals: counter('server_requests_total', 'Inbound requests answered, by status class', serverLabels),
      durations: histogram(
        'server_request_duration_seconds',
        'Time to answer inbound requests',
        serverLabels,
      ),
      rejected: counter('server_rejected_total', 'Inbound requests shed before the handler ran', [
        'service',
        'reason',
      ]),
    };
    this.resource = {
      totals: counter('resource_calls_total', 'Calls of governed (decorated) methods, by how they ended', [
        'resource',
        'outcome',
      ]),
      durations: histogram('resource_call_duration_seconds', 'Duration of governed (decorated) methods', [
        'resource',
        'outcome',
      ]),
      fallbacks: counter('resource_fallbacks_total', 'Failed calls answered by a fallback', ['resource']),
    };
    this.breakers = new BreakerGauges({
      prefix: p,
      registry,
      endpointLabels: ep,
      transitions: counter('breaker_transitions_total', 'Circuit breaker state changes, by new state', [
        'resource',
        'to',
      ]),
    });
    this.rules = new RuleMetrics(
      p,
      registry,
      counter('rule_rejected_total', 'Rule documents rejected (the last good one stays in force)', ['key']),
    );
    this.authorization = new AuthorizationMetrics(
      counter(
        'inbound_authorization_total',
        'Zero trust: mutual-TLS requests allowed or denied by intentions, by verified calling service',
        ['service', 'source', 'decision'],
      ),
      counter(
        'inbound_plaintext_requests_total',
        'Zero trust, permissive mode: plain (not mutual TLS) requests taken, by the caller they claim',
        ['service', 'caller'],
      ),
    );
    this.golden = new GoldenSignalsView({
      clientDurations: this.client.durations,
      serverDurations: this.server.durations,
      serverRejected: this.server.rejected,
      targets: () => this.targetHealth(),
    });
    this.registry = registry;
    this.prefix = p;
    this.endpointLabels = ep;
  }

  /** Client-side metrics of calls to `service`. */
  service(service: string): ClientServiceMetrics {
    let m = this.clients.get(service);
    if (m === undefined) {
      m = new ClientServiceMetrics(service, this.client, this.endpointLabels);
      this.clients.set(service, m);
    }
    return m;
  }

  /** Shortcut for `service(service).call(method, subset, endpoint)`: a prepared per-call recorder. */
  clientCall(
    service: string,
    method: string,
    subset: string | undefined,
    endpoint?: string,
  ): OutcomeRecorder {
    return this.service(service).call(method, subset, endpoint);
  }

  /** Inbound-side metrics of this instance's `service`. */
  serverService(service: string): ServerServiceMetrics {
    let m = this.servers.get(service);
    if (m === undefined) {
      m = new ServerServiceMetrics(service, this.server.totals, this.server.durations, this.server.rejected);
      this.servers.set(service, m);
    }
    return m;
  }

  /** Shortcut for `serverService(service).call(method)`: record(status, seconds) per request. */
  serverCall(service: string, method: string): StatusRecorder {
    return this.serverService(service).call(method);
  }

  /** The recorder of a governed method (`@mesh.governed('catalog.getItem')`). */
  resourceCall(resource: string): ResourceRecorder {
    let r = this.resources.get(resource);
    if (r === undefined) {
      const r2 = this.resource;
      r = new ResourceRecorder(r2.totals, r2.durations, r2.fallbacks.cell([resource]), resource);
      this.resources.set(resource, r);
    }
    return r;
  }

  /** A circuit breaker changed state (`endpoint` for a per-endpoint breaker). */
  breakerState(resource: string, state: BreakerState, endpoint?: string): void {
    this.breakers.set(resource, state, endpoint);
  }

  /** A breaker went away (its endpoint left the service). */
  breakerRemoved(resource: string, endpoint?: string): void {
    this.breakers.remove(resource, endpoint);
  }

  /** A rule document is in force at this ModifyIndex. */
  ruleApplied(key: string, modifyIndex: number): void {
    this.rules.applied(key, modifyIndex);
  }

  /** A rule key was deleted: defaults apply again. */
  ruleRemoved(key: string): void {
    this.rules.removed(key);
  }

  /** A rule document failed to parse or validate. */
  ruleRejected(key: string): void {
    this.rules.rejected(key);
  }

  /** Follows a RuleStore (applied indexes, rejections) until disposed. */
  observeRuleStore(store: RuleStore): Disposable {
    return this.rules.observe(store);
  }

  /** `meshless_inbound_authorization_total`: a mutual-TLS request decided by the intentions. */
  decided(service: string, source: string, allowed: boolean): void {
    this.authorization.decided(service, source, allowed);
  }

  /** `meshless_inbound_plaintext_requests_total`: a plain request taken in permissive mode. */
  plaintext(service: string, claimedCaller: string): void {
    this.authorization.plaintext(service, claimedCaller);
  }

  /** `meshless_rules_held`: 1 while the prefix read as empty and the last good rules stay in force. */
  rulesHeld(on: boolean): void {
    this.rules.held(on);
  }

  /** The registry's exposition text (everything in it, not only meshless's metrics). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The golden signals as compact JSON-ready data (`GET /meshless/signals`), from the same cells. */
  signals(identity?: SignalsIdentity): GoldenSignals {
    return this.golden.snapshot(identity);
  }

  /** Per called service: endpoints ejected now and open breakers (breakers keyed by the service's name). */
  private targetHealth(): TargetHealthSignals[] {
    const byTarget = new Map<string, { target: string; ejected: number; openBreakers: number }>();
    for (const [service, m] of this.clients) {
      if (m.ejected > 0) byTarget.set(service, { target: service, ejected: m.ejected, openBreakers: 0 });
    }
    for (const { resource, open } of this.breakers.openCounts()) {
      const t = byTarget.get(resource);
      if (t) t.openBreakers = open;
      else byTarget.set(resource, { target: resource, ejected: 0, openBreakers: open });
    }
    return [...byTarget.values()];
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** `(req, res) => void` for node:http and Express that answers with `text()`. */
  metricsHandler(): MetricsHandler {
    return createMetricsHandler(this.registry);
  }
}

export type { BreakerState, Outcome };
