import { BreakerRegistry } from '@meshless/breaker';
import {
  ConsulConnection,
  ConsulRuleSource,
  Discovery,
  defaultCacheDir,
  type RuleStatusWriter,
  type ServiceRegistration,
} from '@meshless/consul';
import {
  type CallObserver,
  type Clock,
  ClosedError,
  type Disposable,
  DisposableStore,
  type Event,
  type Logger,
  parseOrThrow,
  type Random,
  type RuleChange,
  RuleStore,
  systemClock,
  systemRandom,
  toDisposable,
} from '@meshless/core';
import { createStaticMetricsHandler, type MeshMetrics, type MetricsHandler } from '@meshless/metrics';
import type { MeshTracer } from '@meshless/tracing';
import type { MeshClient, MeshClientOptions } from './client/mesh-client.ts';
import { Transport } from './client/transport.ts';
import {
  type GovernedMethodDecorator,
  type GovernedOptions,
  governed as governedDecorator,
} from './decorators/index.ts';
import { Governor } from './governance/index.ts';
import { GovernanceCheck } from './governance-check.ts';
import { InFlightCounter } from './in-flight-counter.ts';
import type { Mesh, MeshStatus } from './mesh-api.ts';
import { MeshClients } from './mesh-clients.ts';
import { closeInOrder, installSignalHandlers, startUp } from './mesh-lifecycle.ts';
import { type MeshOptions, meshOptionsSchema, resolveLogger } from './mesh-options.ts';
import { createRegistration } from './mesh-registration.ts';
import { createMeshTelemetry } from './mesh-telemetry.ts';
import { startStatusWriter, statusInstance } from './rule-status.ts';
import { builtinSections } from './rules/index.ts';
import {
  type ErrorMiddleware,
  errorHandler,
  fastifyPlugin,
  type Middleware,
  middleware,
  type RequestHandler,
  type ServingState,
  serve,
} from './server/adapters.ts';
import { InFlightRequests } from './server/in-flight-requests.ts';
import { InboundGuard } from './server/inbound-guard.ts';
import { passThrough } from './server/pass-through.ts';
import { observedCalls } from './telemetry/observed-calls.ts';

export type { Mesh, MeshStatus } from './mesh-api.ts';
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
}

class MeshImpl implements Mesh {
  readonly rules: RuleStore;
  readonly onDidChangeRules: Event<RuleChange>;
  readonly fastifyPlugin: ReturnType<typeof fastifyPlugin>;
  readonly governor: Governor;
  readonly tracer: MeshTracer | undefined;
  private readonly metricsRegistry: MeshMetrics | undefined;
  /** Tracing, metrics and the user's hooks as one observer: each call opens one scope. */
  private readonly observer: CallObserver;
  readonly governed = (name: string, options?: GovernedOptions): GovernedMethodDecorator =>
    governedDecorator(this.governor, name, options);
  private readonly disposables = new DisposableStore();
  private readonly clients: MeshClients;
  private readonly breakers: BreakerRegistry;
  private readonly transport: Transport;
  private readonly discovery: Discovery;
  private readonly guard: InboundGuard | undefined;
  private readonly serving: ServingState;
  private readonly inFlight: InFlightRequests;
  /** Remote calls in flight across the clients: close() drains on it. */
  private readonly inFlightCalls = new InFlightCounter();
  private readonly statusWriter: RuleStatusWriter | undefined;
  private readonly governanceCheck: GovernanceCheck | undefined;
  private draining = false;
  private rulesPaused = false;
  private closing: Promise<void> | undefined;

  private readonly options: MeshOptions;
  private readonly connection: ConsulConnection;
  private readonly source: ConsulRuleSource;
  private readonly registration: ServiceRegistration | undefined;
  private readonly logger: Logger;

  constructor(collaborators: MeshCollaborators) {
    const { options, connection, source, rules, registration, clock, random, logger } = collaborators;
    const { cacheDir, readyTimeoutMs } = collaborators;
    this.options = options;
    this.connection = connection;
    this.source = source;
    this.registration = registration;
    this.logger = logger;
    this.rules = rules;
    this.onDidChangeRules = rules.onDidChange;
    this.transport = new Transport(options.http);
    this.breakers = new BreakerRegistry({ clock });
    const telemetry = createMeshTelemetry(options, logger, rules, this.breakers);
    this.tracer = telemetry.tracer;
    this.metricsRegistry = telemetry.metrics;
    this.observer = telemetry.observer;
    this.disposables.add(telemetry);
    const metrics = this.metricsRegistry;
    this.governor = new Governor({
      rules,
      clock,
      random,
      logger,
      instrument: observedCalls(this.observer, clock),
      breakers: this.breakers,
    });
    const readyDeadline = clock.now() + readyTimeoutMs;
    this.discovery = new Discovery({
      connection,
      cacheDir,
      logger,
      stale: options.staleReads,
      // Once Consul has answered the rule watch, give discovery the full time; while it has not,
      // a client made after createMesh's deadline serves cached endpoints at once.
      cacheAfterMs: () =>
        source.stats().index > 0 ? readyTimeoutMs : Math.max(0, readyDeadline - clock.now()),
    });
    this.disposables.add(
      source.subscribe((snapshot) => {
        if (!this.rulesPaused) rules.applySnapshot(snapshot);
      }),
    );
    const healthPath =
      options.service?.healthPath === false ? undefined : (options.service?.healthPath ?? '/meshless/health');
    const metricsPath =
      options.service?.metricsPath === false ? undefined : (options.service?.metricsPath ?? '/metrics');
    this.inFlight = new InFlightRequests(clock);
    this.serving = {
      healthPath,
      metricsPath,
      healthy: () => !this.draining,
      inFlight: this.inFlight,
      logger,
    };
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
        observer: this.observer,
        inFlightCalls: this.inFlightCalls,
        ...(metrics ? { metrics } : {}),
      },
      // Keep instances whose only non-passing check is a warning (e.g. the governance check while
      // a rule is rejected): a bad rule must not take the fleet out of discovery.
      resolve: (service, datacenters) =>
        this.discovery.resolver(service, { includeWarning: true, ...(datacenters ? { datacenters } : {}) }),
      datacenters: options.datacenters,
      // The documents of a newly called service now affect this instance.
      onDidMake: () => {
        if (registration) void this.reportGovernance();
      },
    });
    const self = options.service?.name;
    this.guard = self ? new InboundGuard(self, rules, clock, random, logger, this.observer) : undefined;
    this.fastifyPlugin = fastifyPlugin(this.requireGuard(), this.serving);
    if (registration) {
      this.governanceCheck = new GovernanceCheck({
        rules,
        registration,
        self: options.service?.name,
        sections: options.sections ?? [],
        calls: () => this.clients.services(),
        resources: () => this.governor.followed().resources,
        hold: () => source.hold(),
        rejectionStatus: options.governance?.rejectionStatus,
      });
      const report = () => void this.reportGovernance();
      this.disposables.add(rules.onDidApplySnapshot(report));
      this.disposables.add(source.onDidChangeHold(report));
      this.disposables.add(this.governor.onDidFollow(report));
    }
    this.disposables.add(
      source.onDidChangeHold((hold) => {
        metrics?.rulesHeld(hold !== undefined && hold.reason !== 'checking');
      }),
    );
    if (options.governance?.statusEntries !== false) {
      this.statusWriter = this.disposables.add(
        startStatusWriter({
          connection,
          source,
          rules,
          logger,
          clock,
          random,
          instance: statusInstance(options, registration),
        }),
      );
    }
  }

  get serviceId(): string | undefined {
    return this.registration?.status().id;
  }

  client(service: string, options?: MeshClientOptions): MeshClient {
    if (this.closing) throw new ClosedError(`mesh is closed (client for ${service})`);
    return this.clients.client(service, options);
  }

  pauseRuleUpdates(): Disposable {
    this.rulesPaused = true;
    return toDisposable(() => {
      this.rulesPaused = false;
      const latest = this.source.snapshot;
      if (latest) this.rules.applySnapshot(latest);
    });
  }

  serve(handler: RequestHandler): RequestHandler {
    return serve(this.requireGuard(), this.serving, handler);
  }

  middleware(): Middleware {
    return middleware(this.requireGuard(), this.serving);
  }

  errorHandler(): ErrorMiddleware {
    return errorHandler(this.serving);
  }

  status(): MeshStatus {
    const watch = this.source.stats();
    return {
      // Reachable once Consul has answered (a request sent to a hung agent is not an answer).
      consul: { address: this.connection.address, reachable: watch.failures === 0 && watch.index > 0, watch },
      rules: this.rules.status(),
      rulesHeld: this.source.hold(),
      registration: this.registration?.status(),
      clients: this.clients.all().map((c) => c.status()),
      breakers: this.breakers.snapshot().filter((b) => b.endpointId !== undefined),
      resources: this.governor.breakerStatus(),
    };
  }

  metrics(): Promise<string> {
    return this.metricsRegistry ? this.metricsRegistry.text() : Promise.resolve('');
  }

  metricsHandler(): MetricsHandler {
    if (this.metricsRegistry) return this.metricsRegistry.metricsHandler();
    return createStaticMetricsHandler(404, 'metrics are off (createMesh({ metrics: false }))\n');
  }

  /** Sets the "meshless governance" check from the keys that affect this instance. */
  async reportGovernance(): Promise<void> {
    await this.governanceCheck?.report();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.draining = true;
      await closeInOrder({
        registration: this.registration,
        requests: this.inFlight,
        calls: this.inFlightCalls,
        subscriptions: this.disposables,
        statusWriter: this.statusWriter,
        clients: this.clients,
        guard: this.guard,
        discovery: this.discovery,
        breakers: this.breakers,
        source: this.source,
        governor: this.governor,
        rules: this.rules,
        transport: this.transport,
        connection: this.connection,
        logger: this.logger,
        drainMs: this.options.service?.drainMs ?? (this.registration ? 1000 : 0),
        shutdownGraceMs: this.options.service?.shutdownGraceMs ?? 5000,
      });
    })();
    return this.closing;
  }

  /** Without a service name there are no inbound rules to apply: requests pass straight through. */
  private requireGuard(): Pick<InboundGuard, 'run'> {
    return this.guard ?? passThrough(this.logger);
  }
}

/** Connects to Consul, subscribes to the governance center, registers the service and returns the mesh. */
export async function createMesh(options: MeshOptions = {}): Promise<Mesh> {
  // One wording for every schema failure (core schemaError): an unknown option as an unknown rule field.
  parseOrThrow(meshOptionsSchema, options);
  const logger = resolveLogger(options.logger);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const prefix = (options.prefix ?? 'meshless').replace(/^\/+|\/+$/g, '');
  const svc = options.service;
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  const connection = new ConsulConnection(options.consul);
  const source = new ConsulRuleSource({ connection, prefix, cacheDir, logger });
  const rules = new RuleStore({
    prefix,
    sections: [...builtinSections, ...(options.sections ?? [])],
    logger,
  });

  const registration = createRegistration(svc, { connection, logger, clock, random });
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
  });
  await startUp({
    source,
    registration,
    clock,
    logger,
    readyTimeoutMs,
    started,
    reportGovernance: () => mesh.reportGovernance(),
  });
  if (options.handleSignals) installSignalHandlers(mesh, logger);
  return mesh;
}
