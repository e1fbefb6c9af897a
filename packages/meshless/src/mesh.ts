import { BreakerRegistry } from '@meshless/breaker';
import {
  ConsulConnection,
  ConsulRuleSource,
  type Discovery,
  defaultCacheDir,
  type RuleStatusWriter,
  resolveConsulOptions,
  type ServiceRegistration,
} from '@meshless/consul';
import {
  type Clock,
  ClosedError,
  ConfigError,
  type Disposable,
  DisposableStore,
  type Event,
  type Logger,
  type Random,
  type RuleChange,
  RuleStore,
  systemClock,
  systemRandom,
} from '@meshless/core';
import { createStaticMetricsHandler, type GoldenSignals, type MetricsHandler } from '@meshless/metrics';
import type { MeshTracer } from '@meshless/tracing';
import type { MeshDispatcher, MeshDispatcherOptions } from './client/dispatcher.ts';
import type { MeshClient, MeshClientOptions } from './client/mesh-client.ts';
import { Transport } from './client/transport.ts';
import { bindGovernedMeshIfUnset, releaseGovernedMesh } from './decorators/governed-mesh.ts';
import {
  type GovernedMethodDecorator,
  type GovernedOptions,
  governed as governedDecorator,
} from './decorators/index.ts';
import { Governor } from './governance/index.ts';
import { type GovernanceCheck, meshGovernanceCheck } from './governance-check.ts';
import { InFlightCounter } from './in-flight-counter.ts';
import type { Mesh, MeshStatus } from './mesh-api.ts';
import { MeshClients } from './mesh-clients.ts';
import { calledService, createMeshDiscovery } from './mesh-discovery.ts';
import { MeshDispatchers } from './mesh-dispatchers.ts';
import { type MeshOptionsInput, resolveMeshOptions, warnUnknownEnvVariables } from './mesh-env.ts';
import { createMeshInbound, type MeshInbound } from './mesh-inbound.ts';
import { closeInOrder, installSignalHandlers, startUp } from './mesh-lifecycle.ts';
import { type MeshOptions, resolveLogger } from './mesh-options.ts';
import { createRegistration } from './mesh-registration.ts';
import { createMeshTelemetry, type MeshTelemetry } from './mesh-telemetry.ts';
import { PropagatedHeaders } from './propagation/propagated-headers.ts';
import { startStatusWriter, statusInstance } from './rule-status.ts';
import { RuleUpdates } from './rule-updates.ts';
import { builtinSections } from './rules/index.ts';
import type { ErrorMiddleware, fastifyPlugin, Middleware, RequestHandler } from './server/adapters.ts';
import { observedCalls } from './telemetry/observed-calls.ts';
import { createMeshServer } from './zero-trust/mesh-server.ts';
import { ZeroTrust, type ZeroTrustOptions } from './zero-trust/zero-trust.ts';

export type { Mesh, MeshStatus } from './mesh-api.ts';
export type { MeshOptionsInput } from './mesh-env.ts';
export type { MeshOptions, MeshServiceOptions } from './mesh-options.ts';

/** What createMesh has made and checked before the mesh wires the rest (clients, guard, discovery). */
interface MeshCollaborators {
  readonly options: MeshOptions;
  readonly connection: ConsulConnection;
  readonly source: ConsulRuleSource;
  readonly rules: RuleStore;
  readonly registration: ServiceRegistration | undefined;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly cacheDir: string | false;
  readonly readyTimeoutMs: number;
  readonly zeroTrust: ZeroTrust | undefined;
}

/** The composition root: wires the collaborators into one mesh; each concept lives in its own file. */
class MeshImpl implements Mesh {
  readonly rules: RuleStore;
  readonly onDidChangeRules: Event<RuleChange>;
  readonly fastifyPlugin: ReturnType<typeof fastifyPlugin>;
  readonly governor: Governor;
  readonly tracer: MeshTracer | undefined;
  /** The tracer, the metrics, and the one observer (tracing, metrics, the user's hooks) calls open scopes on. */
  private readonly telemetry: MeshTelemetry;
  readonly governed = (name: string, options?: GovernedOptions): GovernedMethodDecorator =>
    governedDecorator(this.governor, name, options);
  private readonly disposables = new DisposableStore();
  private readonly clients: MeshClients;
  /** mesh.dispatcher(): governed calls from fetch/undici/axios, through the clients above. */
  private readonly dispatchers = new MeshDispatchers((service) => this.client(service));
  private readonly breakers: BreakerRegistry;
  private readonly transport: Transport;
  private readonly discovery: Discovery;
  private readonly inbound: MeshInbound;
  /** Remote calls in flight across the clients: close() drains on it. */
  private readonly inFlightCalls = new InFlightCounter();
  private readonly ruleUpdates: RuleUpdates;
  private readonly statusWriter: RuleStatusWriter | undefined;
  private readonly governanceCheck: GovernanceCheck | undefined;
  private draining = false;
  /** Set once close() has finished: the liveness path answers 503 from then on. */
  private closed = false;
  private closing: Promise<void> | undefined;
  /** What createMesh made: status() and close() read the connection, source and registration from it. */
  private readonly parts: MeshCollaborators;

  constructor(collaborators: MeshCollaborators) {
    this.parts = collaborators;
    const { options, source, rules, registration, clock, random, logger } = collaborators;
    this.rules = rules;
    this.onDidChangeRules = rules.onDidChange;
    const zeroTrust = collaborators.zeroTrust;
    // Its watches stop with the other subscriptions, before the Consul connection closes (the
    // certificate stays in memory for the requests still draining).
    if (zeroTrust) this.disposables.add(zeroTrust);
    this.transport = new Transport(options.http, zeroTrust?.clientTls);
    this.breakers = new BreakerRegistry({ clock });
    this.telemetry = this.disposables.add(createMeshTelemetry(options, logger, rules, this.breakers));
    const { observer, metrics } = this.telemetry;
    this.tracer = this.telemetry.tracer;
    this.governor = new Governor({
      rules,
      clock,
      random,
      logger,
      instrument: observedCalls(observer, clock),
      breakers: this.breakers,
    });
    this.discovery = createMeshDiscovery({
      ...collaborators,
      stale: options.staleReads,
      thread: options.discovery,
    });
    this.ruleUpdates = this.disposables.add(new RuleUpdates(source, rules));
    // No names, no store: neither side does anything per request or call.
    const propagation = options.propagate?.headers.length
      ? new PropagatedHeaders(options.propagate.headers)
      : undefined;
    this.clients = new MeshClients({
      shared: {
        caller: options.service?.name,
        localZone: options.service?.zone,
        localRegion: options.service?.region,
        rules,
        breakers: this.breakers,
        transport: this.transport,
        clock,
        random,
        logger,
        observer,
        inFlightCalls: this.inFlightCalls,
        propagation,
        ...(metrics ? { metrics } : {}),
      },
      resolve: (service, datacenters) => calledService(this.discovery, service, datacenters),
      datacenters: options.datacenters,
      // The documents of a newly called service now affect this instance.
      onDidMake: () => {
        if (registration) void this.reportGovernance();
      },
    });
    this.inbound = createMeshInbound({
      ...collaborators,
      service: options.service,
      observer,
      healthy: () => !this.draining,
      live: () => !this.closed,
      propagation,
      signals: metrics ? () => JSON.stringify(this.signals()) : undefined,
      authorizer: zeroTrust?.authorizer(zeroTrustOptions(options)?.inbound ?? 'permissive', metrics),
    });
    this.fastifyPlugin = this.inbound.fastifyPlugin;
    if (registration) {
      const calls = () => this.clients.services();
      this.governanceCheck = this.disposables.add(
        meshGovernanceCheck({ ...collaborators, registration, governor: this.governor, calls }),
      );
    }
    this.disposables.add(
      source.onDidChangeHold((hold) => {
        metrics?.rulesHeld(hold !== undefined && hold.reason !== 'checking');
      }),
    );
    if (options.governance?.statusEntries !== false) {
      const instance = statusInstance(options, registration);
      this.statusWriter = this.disposables.add(startStatusWriter({ ...collaborators, instance }));
    }
  }

  get serviceId(): string | undefined {
    return this.parts.registration?.status().id;
  }

  client(service: string, options?: MeshClientOptions): MeshClient {
    if (this.closing) throw new ClosedError(`mesh is closed (client for ${service})`);
    return this.clients.client(service, options);
  }

  dispatcher(options?: MeshDispatcherOptions): MeshDispatcher {
    if (this.closing) throw new ClosedError('mesh is closed (dispatcher)');
    return this.dispatchers.dispatcher(options);
  }

  pauseRuleUpdates(): Disposable {
    return this.ruleUpdates.pause();
  }

  serve(handler: RequestHandler): RequestHandler {
    return this.inbound.serve(handler);
  }

  middleware(): Middleware {
    return this.inbound.middleware();
  }

  createServer(listener?: RequestHandler): import('node:http').Server {
    const server = createMeshServer(listener, this.parts.zeroTrust?.credentials, { clock: this.parts.clock });
    this.inbound.serving.inFlight.adopt(server);
    return server;
  }

  errorHandler(): ErrorMiddleware {
    return this.inbound.errorHandler();
  }

  status(): MeshStatus {
    const { source, connection, registration } = this.parts;
    const watch = source.stats();
    return {
      // Reachable once Consul has answered (a request sent to a hung agent is not an answer).
      consul: { address: connection.address, reachable: watch.failures === 0 && watch.index > 0, watch },
      rules: this.rules.status(),
      rulesHeld: source.hold(),
      registration: registration?.status(),
      clients: this.clients.all().map((c) => c.status()),
      breakers: this.breakers.snapshot().filter((b) => b.endpointId !== undefined),
      resources: this.governor.breakerStatus(),
      ...(this.parts.zeroTrust ? { zeroTrust: this.parts.zeroTrust.status() } : {}),
    };
  }

  metrics(): Promise<string> {
    return this.telemetry.metrics ? this.telemetry.metrics.text() : Promise.resolve('');
  }

  signals(): GoldenSignals | undefined {
    const svc = this.parts.options.service;
    return this.telemetry.metrics?.signals({
      service: svc?.name,
      version: svc?.version,
      instance: this.serviceId,
    });
  }

  metricsHandler(): MetricsHandler {
    if (this.telemetry.metrics) return this.telemetry.metrics.metricsHandler();
    return createStaticMetricsHandler(404, 'metrics are off (createMesh({ metrics: false }))\n');
  }

  /** Sets the "meshless governance" check from the keys that affect this instance. */
  async reportGovernance(): Promise<void> {
    await this.governanceCheck?.report();
  }

  /** For handleSignals, after close(): the servers requests came through stop accepting (see InFlightRequests). */
  stopAccepting(ms: number): Promise<void> {
    return this.inbound.serving.inFlight.stopAccepting(ms);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.draining = true;
      releaseGovernedMesh(this);
      const { options, registration } = this.parts;
      await closeInOrder({
        registration,
        requests: this.inbound.serving.inFlight,
        calls: this.inFlightCalls,
        subscriptions: this.disposables,
        statusWriter: this.statusWriter,
        clients: this.clients,
        guard: this.inbound,
        discovery: this.discovery,
        breakers: this.breakers,
        source: this.parts.source,
        governor: this.governor,
        rules: this.rules,
        transport: this.transport,
        connection: this.parts.connection,
        logger: this.parts.logger,
        drainMs: options.service?.drainMs ?? (registration ? 1000 : 0),
        shutdownGraceMs: options.service?.shutdownGraceMs ?? 5000,
      });
      // Pass-through requests of mesh.dispatcher() are not mesh calls: they get the drain period.
      await this.dispatchers.close(options.service?.drainMs ?? 0);
      this.closed = true;
    })();
    return this.closing;
  }
}

/** The zeroTrust option as options (undefined: off). */
function zeroTrustOptions(options: MeshOptions): ZeroTrustOptions | undefined {
  const z = options.zeroTrust;
  return z === true ? {} : z === false || z === undefined ? undefined : z;
}

/** Connects to Consul, subscribes to the governance center, registers the service and returns the mesh. */
export async function createMesh(explicit: MeshOptionsInput = {}): Promise<Mesh> {
  // The MESHLESS_* environment under the explicit options, then the one schema (core schemaError's
  // wording, a variable's name where the value came from one).
  const { options, env } = resolveMeshOptions(explicit);
  const logger = resolveLogger(options.logger);
  warnUnknownEnvVariables(env, logger);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const prefix = (options.prefix ?? 'meshless').replace(/^\/+|\/+$/g, '');
  const svc = options.service;
  // MESHLESS_CACHE_DIR was read with the rest of the environment.
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir({}) : options.cacheDir;
  const connection = new ConsulConnection(resolveConsulOptions(options.consul, env));
  // One governance center for WAN-joined datacenters (option or MESHLESS_RULES_DATACENTER).
  const source = new ConsulRuleSource({
    connection,
    prefix,
    cacheDir,
    logger,
    datacenter: options.rulesDatacenter,
    ...(options.rulesStaleReads ? { watch: { stale: true } } : {}),
  });
  const rules = new RuleStore({
    prefix,
    sections: [...builtinSections, ...(options.sections ?? [])],
    logger,
  });

  const zt = zeroTrustOptions(options);
  if (zt && !svc?.name) {
    throw new ConfigError(
      'zeroTrust: needs service (its certificate and intentions are those of a service)',
      {
        path: 'zeroTrust',
      },
    );
  }
  const zeroTrust =
    zt && svc
      ? new ZeroTrust({ connection, service: svc.name, logger, clock, random, options: zt })
      : undefined;
  const registration = createRegistration(svc, {
    connection,
    logger,
    clock,
    random,
    connectNative: zeroTrust !== undefined,
    metrics: options.metrics !== false,
  });
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const started = clock.now();
  const mesh = new MeshImpl({
    options,
    connection,
    source,
    rules,
    registration,
    clock,
    random,
    logger,
    cacheDir,
    readyTimeoutMs,
    zeroTrust,
  });
  // The certificate and intentions load beside the rules; until they do, requests fail closed.
  const zeroTrustReady = zeroTrust?.ready(Math.max(0, readyTimeoutMs - (clock.now() - started)));
  await startUp({
    source,
    registration,
    clock,
    logger,
    readyTimeoutMs,
    started,
    reportGovernance: () => mesh.reportGovernance(),
  });
  await zeroTrustReady;
  if (options.handleSignals) installSignalHandlers(mesh, logger);
  // governed(name) declared before any mesh existed binds here on its first call (first mesh wins).
  bindGovernedMeshIfUnset(mesh);
  return mesh;
}
