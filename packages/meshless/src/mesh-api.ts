import type { BreakerRegistry } from '@meshless/breaker';
import type { RegistrationStatus, RulesHold, WatchStats } from '@meshless/consul';
import type { Disposable, Event, RuleChange, RuleStore, RuleStoreStatus } from '@meshless/core';
import type { GoldenSignals, MetricsHandler } from '@meshless/metrics';
import type { MeshTracer } from '@meshless/tracing';
import type { MeshDispatcher, MeshDispatcherOptions } from './client/dispatcher.ts';
import type { MeshClient, MeshClientOptions, MeshClientStatus } from './client/mesh-client.ts';
import type { GovernedMethodDecorator, GovernedOptions } from './decorators/index.ts';
import type { GovernedBreakerStatus, Governor } from './governance/index.ts';
import type { ErrorMiddleware, fastifyPlugin, Middleware, RequestHandler } from './server/adapters.ts';
import type { ZeroTrustStatus } from './zero-trust/zero-trust.ts';

export interface MeshStatus {
  readonly consul: {
    readonly address: string;
    /** False while the last request to Consul failed. */
    readonly reachable: boolean;
    readonly watch: Readonly<WatchStats>;
  };
  readonly rules: RuleStoreStatus;
  /** Set while the prefix read as empty in one step and the last good rules stay in force. */
  readonly rulesHeld: RulesHold | undefined;
  readonly registration: RegistrationStatus | undefined;
  readonly clients: readonly MeshClientStatus[];
  /** Breakers of remote calls, per (service, endpoint). */
  readonly breakers: ReturnType<BreakerRegistry['snapshot']>;
  /** Breakers of decorated methods, per resource. */
  readonly resources: readonly GovernedBreakerStatus[];
  /** Zero trust (undefined when off): the identity, its certificate's end, the intentions loaded. */
  readonly zeroTrust?: ZeroTrustStatus;
}

export interface Mesh {
  /** The rules in force on this instance. */
  readonly rules: RuleStore;
  /** Fires when a rule document comes into force or is deleted. */
  readonly onDidChangeRules: Event<RuleChange>;
  /** Builds the policies of decorated methods and resources from the rules. */
  readonly governor: Governor;
  /**
   * Decorates a method with the policies of `resources/<name>` (live from Consul), over the
   * values given here: `@mesh.governed('catalog.getItem', { timeoutMs: 300, fallback: () => null })`.
   */
  governed(name: string, options?: GovernedOptions): GovernedMethodDecorator;
  /** This instance's Consul service id, when registered. */
  readonly serviceId: string | undefined;
  /**
   * Stops applying rule changes on this instance until the result is disposed (then it catches up
   * at once). For incidents: freeze one instance's rules while you investigate. Status shows it STALE.
   */
  pauseRuleUpdates(): Disposable;
  /** The governed client for a service (one per service, created on first use). */
  client(service: string, options?: MeshClientOptions): MeshClient;
  /**
   * An undici Dispatcher that governs requests to service hosts (`http://catalog/items/1`,
   * `http://catalog.service.consul/...`) exactly as `client('catalog')` does, and passes every
   * other host to a plain undici Agent: `fetch(url, { dispatcher: mesh.dispatcher() })`,
   * `setGlobalDispatcher(mesh.dispatcher())`, undici's `request`/`stream`, axios's fetch adapter.
   * Without options, the same dispatcher every time; closed with the mesh.
   */
  dispatcher(options?: MeshDispatcherOptions): MeshDispatcher;
  /** A node:http request listener that applies inbound rules: `http.createServer(mesh.serve(handler))`. */
  serve(handler: RequestHandler): RequestHandler;
  /**
   * The server to listen with: an `http.Server` for `listener` (an Express app, `mesh.serve(h)`,
   * Fastify's handler in `serverFactory`). With zero trust on, it also takes mutual TLS on the
   * same port, with the instance's certificate (renewed live); without, it is `http.createServer`.
   */
  createServer(listener?: RequestHandler): import('node:http').Server;
  /** Express/Connect middleware applying inbound rules. */
  middleware(): Middleware;
  /**
   * Express error middleware, mounted after the routes: a meshless error that reaches a route
   * is answered with its status (504 deadline exceeded, 503 circuit open, 429 rate limited, ...).
   */
  errorHandler(): ErrorMiddleware;
  /** A Fastify plugin applying inbound rules: `fastify.register(mesh.fastifyPlugin)`. */
  readonly fastifyPlugin: ReturnType<typeof fastifyPlugin>;
  status(): MeshStatus;
  /** Prometheus text of the mesh's metrics (empty when `metrics: false`). */
  metrics(): Promise<string>;
  /**
   * A `/metrics` handler for node:http, Express and Fastify: `app.get('/metrics', mesh.metricsHandler())`
   * or `fastify.get('/metrics', mesh.metricsHandler())`.
   */
  metricsHandler(): MetricsHandler;
  /** The golden signals `GET /meshless/signals` answers (docs/metrics.md, "Fleet signals"); undefined when `metrics: false`. */
  signals(): GoldenSignals | undefined;
  /**
   * The mesh's tracer (spans for calls, attempts, inbound requests and decorated methods).
   * @internal Not in docs/api.md: bench/mesh-decorated.bench.ts checks with it that tracing is on.
   */
  readonly tracer: MeshTracer | undefined;
  /** Leaves discovery, drains, deregisters, stops every watch and closes connections. Idempotent; leaves no handle open. */
  close(): Promise<void>;
}
