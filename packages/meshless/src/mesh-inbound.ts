import type { CallObserver, Clock, Disposable, Logger, Random, RuleStore } from '@meshless/core';
import type { MeshServiceOptions } from './mesh-options.ts';
import type { PropagatedHeaders } from './propagation/propagated-headers.ts';
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
import { CALLER_HEADER, headerValue, InboundGuard } from './server/inbound-guard.ts';
import { passThrough } from './server/pass-through.ts';
import type { InboundAuthorizer } from './zero-trust/inbound-authorizer.ts';

/**
 * Answered by the mesh itself, for Consul's HTTP check (the registration's check URL defaults to
 * it too). It is the readiness answer under its historical name.
 */
export const DEFAULT_HEALTH_PATH = '/meshless/health';
/** Readiness: 200 while the mesh takes traffic, 503 from the moment close() begins to drain. */
export const DEFAULT_READINESS_PATH = '/meshless/health/ready';
/** Liveness: 200 until close() has finished (drain included), so a probe never restarts a draining process. */
export const DEFAULT_LIVENESS_PATH = '/meshless/health/live';
/** Served past the inbound rules: a Prometheus scrape is never limited. */
export const DEFAULT_METRICS_PATH = '/metrics';
/** The golden signals (compact JSON), answered by the mesh itself past the inbound rules. */
export const DEFAULT_SIGNALS_PATH = '/meshless/signals';

/** The signals path `service` asks for; undefined when turned off. */
export function signalsPathOf(service: MeshServiceOptions | undefined): string | undefined {
  return pathOrDefault(service?.signalsPath, DEFAULT_SIGNALS_PATH);
}

export interface MeshInboundParts {
  readonly service: MeshServiceOptions | undefined;
  readonly rules: RuleStore;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly observer: CallObserver;
  /** false once the mesh drains: the health and readiness paths answer 503. */
  readonly healthy: () => boolean;
  /** false once close() has finished: the liveness path answers 503. Default: always true. */
  readonly live?: () => boolean;
  /** The golden signals' JSON text, or undefined when metrics are off (the path is then not answered). */
  readonly signals?: (() => string) | undefined;
  /** The headers that travel on from served requests (undefined: none named). */
  readonly propagation?: PropagatedHeaders | undefined;
  /** Zero trust: who may call (needs a service name). */
  readonly authorizer?: InboundAuthorizer | undefined;
}

/**
 * The requests this instance serves: mesh.serve(), middleware(), errorHandler() and the Fastify
 * plugin over one guard and one serving state. Disposing stops following the inbound rules.
 */
export interface MeshInbound extends Disposable {
  /** The service's inbound rules; without a service name there are none, and requests pass straight through. */
  readonly guard: Pick<InboundGuard, 'run'>;
  /** The paths the mesh answers itself and the inbound requests in flight (close() answers each). */
  readonly serving: ServingState;
  serve(handler: RequestHandler): RequestHandler;
  middleware(): Middleware;
  errorHandler(): ErrorMiddleware;
  readonly fastifyPlugin: ReturnType<typeof fastifyPlugin>;
}

export function createMeshInbound(p: MeshInboundParts): MeshInbound {
  const self = p.service?.name;
  const guard = self
    ? new InboundGuard(self, p.rules, p.clock, p.random, p.logger, p.observer, p.propagation, p.authorizer)
    : undefined;
  const serving: ServingState = {
    // `false` turns a path off.
    healthPath: pathOrDefault(p.service?.healthPath, DEFAULT_HEALTH_PATH),
    metricsPath: pathOrDefault(p.service?.metricsPath, DEFAULT_METRICS_PATH),
    livenessPath: pathOrDefault(p.service?.livenessPath, DEFAULT_LIVENESS_PATH),
    readinessPath: pathOrDefault(p.service?.readinessPath, DEFAULT_READINESS_PATH),
    signalsPath: p.signals ? signalsPathOf(p.service) : undefined,
    signals: p.signals ?? noSignals,
    ...(guard && p.authorizer ? { authorizeSignals: signalsAuthorization(p.authorizer) } : {}),
    healthy: p.healthy,
    live: p.live ?? alwaysLive,
    inFlight: new InFlightRequests(p.clock),
    logger: p.logger,
  };
  const run = guard ?? passThrough(p.logger, p.propagation);
  return {
    guard: run,
    serving,
    serve: (handler) => serve(run, serving, handler),
    middleware: () => middleware(run, serving),
    errorHandler: () => errorHandler(serving),
    fastifyPlugin: fastifyPlugin(run, serving),
    dispose: () => guard?.dispose(),
  };
}

/** The guard's authorizer, shared: the same mode (from the inbound rule) and the same intentions. */
function signalsAuthorization(authorizer: InboundAuthorizer): NonNullable<ServingState['authorizeSignals']> {
  return (req) => authorizer.check(req, headerValue(req, CALLER_HEADER));
}

function noSignals(): string {
  return '{}';
}

function alwaysLive(): boolean {
  return true;
}

function pathOrDefault(path: string | false | undefined, fallback: string): string | undefined {
  return path === false ? undefined : (path ?? fallback);
}
