import type { ConsulOptions, ServiceDefinition } from '@meshless/consul';
import { type Clock, consoleLogger, type Logger, type Random, type RuleSection } from '@meshless/core';
import type { MeshMetricsOptions } from '@meshless/metrics';
import type { MeshTracerOptions } from '@meshless/tracing';
import { z } from 'zod';
import type { ClientObserver } from './client/client-observer.ts';
import type { TransportOptions } from './client/transport.ts';
import { type MeshPropagateOptions, propagateSchema } from './propagation/propagate-options.ts';
import type { InboundObserver } from './server/inbound-observer.ts';
import type { ZeroTrustOptions } from './zero-trust/zero-trust.ts';

export interface MeshServiceOptions extends ServiceDefinition {
  /** Register this instance in Consul. Default true. */
  register?: boolean;
  /** Heartbeat TTL of the registration. Default 10 000 ms. */
  ttlMs?: number;
  /**
   * Path of the health endpoint that `serve()`/`middleware()` answer. It is the readiness answer
   * (200, then 503 from the moment close() begins). Default `/meshless/health`; false: none.
   */
  healthPath?: string | false;
  /** Readiness probe path: 200 while taking traffic, 503 once draining. Default `/meshless/health/ready`; false: none. */
  readinessPath?: string | false;
  /** Liveness probe path: 200 until close() has finished, drain included. Default `/meshless/health/live`; false: none. */
  livenessPath?: string | false;
  /**
   * Path of the app's Prometheus endpoint: `serve()`, `middleware()` and the Fastify plugin let it
   * past the inbound rules (a scrape is never rate-limited, shed or faulted). Default `/metrics`;
   * false: no path is exempt.
   */
  metricsPath?: string | false;
  /**
   * Path of the golden signals (`GET`, compact JSON from the metrics' cells; docs/metrics.md,
   * "Fleet signals"), answered by `serve()`, `middleware()` and the Fastify plugin past the inbound
   * rules, and advertised in the registration's meta `meshless-signals`. Default
   * `/meshless/signals`; false: none. Off as well with `metrics: false`.
   */
  signalsPath?: string | false;
  /**
   * Also register a Consul HTTP check on the health endpoint (the app must serve it with
   * `serve()`/`middleware()`): `true`, or its `intervalMs` (default 10 000) and `timeoutMs`.
   * Default false.
   */
  httpCheck?: boolean | { intervalMs?: number; timeoutMs?: number };
  /** On close: time between leaving discovery and stopping, for in-flight calls. Default 1000 ms when registered. */
  drainMs?: number;
  /**
   * On close, after the drain: how much longer inbound requests still running get to finish.
   * Those still running then are answered 503 with `connection: close` before close() resolves
   * (and before `handleSignals` exits). Default 5000 ms.
   */
  shutdownGraceMs?: number;
}

export interface MeshOptions {
  /** This instance: registers itself (unless `register: false`) and names itself to callees. */
  service?: MeshServiceOptions;
  /** The Consul agent to use. Default: the CONSUL_HTTP_* environment, else 127.0.0.1:8500. */
  consul?: ConsulOptions;
  /** KV prefix of the governance center. Default `meshless`. */
  prefix?: string;
  /**
   * Datacenter whose KV holds the rules, for one governance center across WAN-joined
   * datacenters (KV is per datacenter and not replicated): rules are read from there (`?dc=`), the
   * `_status/` entries written there; the disk cache keeps the last good copy when the WAN is down.
   * Default $MESHLESS_RULES_DATACENTER, else the agent's own datacenter.
   */
  rulesDatacenter?: string;
  /** Folder for the on-disk last-known-good copies (rules, endpoints); `false` disables it. Default $MESHLESS_CACHE_DIR or <tmp>/meshless-cache. */
  cacheDir?: string | false;
  /** A Logger, or a level for the built-in one-line stderr logger. Default `warn`. */
  logger?: Logger | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Extra document kinds to accept under the prefix (your own sections). */
  sections?: readonly RuleSection<unknown>[];
  /**
   * Longest time createMesh() takes, and longest wait of a first call for endpoints. When Consul
   * cannot be reached (or accepts connections and never answers), createMesh() resolves by then
   * with the on-disk cached rules (if any), registration goes on in the background, and clients
   * serve cached endpoints; everything catches up when Consul answers. Default 10 000.
   */
  readyTimeoutMs?: number;
  /** Read discovery answers from any Consul server (`?stale`): scales reads, may lag slightly. */
  staleReads?: boolean;
  /**
   * Read the rules from any Consul server (`?stale`), not only through the leader: at fleet size it
   * divides the servers' load per rule change by their number, at the price of the replication lag
   * (usually a few ms); the watches also keep answering while there is no leader. Default false.
   */
  rulesStaleReads?: boolean;
  /**
   * Where discovery answers are received, parsed and compared. Consul re-sends a service's whole
   * list on every change (11 MB at 10 000 instances): `thread: 'auto'` (default) moves a service's
   * watch to a worker thread once its answer holds `offThreadAbove` (default 256) endpoints, and the
   * main thread then gets only the endpoints that changed; `'worker'` always; `'main'` never.
   * `cached: true` asks the local agent's cache (`?cached`): one server query per node and
   * service instead of one per instance, answered from memory (always stale). Default false.
   */
  discovery?: { thread?: 'auto' | 'worker' | 'main'; offThreadAbove?: number; cached?: boolean };
  /**
   * Datacenter failover order for every client (`mesh.client(name, { datacenters })` overrides it):
   * calls go to the first datacenter with a healthy instance (Consul's `?dc=`). Default: the
   * agent's own datacenter only.
   */
  datacenters?: readonly string[];
  /**
   * The governed client's HTTP: keep-alive connections per endpoint (default unlimited), idle
   * keep-alive time (default 30 000 ms), and the time to wait for response headers before an
   * attempt fails when no timeout rule is in force (default 300 000 ms).
   */
  http?: TransportOptions;
  /**
   * How this instance reports rules back. `rejectionStatus`: the "meshless governance" check's
   * status while a document that affects it is rejected (or the rules are held); default
   * `passing`, since the instance is healthy and runs its last good rules (`warning` takes it out
   * of every `?passing` consumer). `statusEntries`: write a status entry beside each rejected key
   * under `<prefix>/_status/` (needs write access there only); default true.
   */
  governance?: { rejectionStatus?: 'passing' | 'warning'; statusEntries?: boolean };
  /** Drain and close on SIGTERM/SIGINT, then exit. Default false. */
  handleSignals?: boolean;
  /**
   * Headers of a served request that travel on to every governed call made while handling it
   * (`{ headers: ['x-user-id', 'x-user-group'] }`), unless the call sets them. Options only.
   */
  propagate?: MeshPropagateOptions;
  /**
   * Where the MESHLESS_* variables (service, prefix, datacenters... see docs/operators-guide.md)
   * and Consul's CONSUL_HTTP_* ones are read from; explicit options win over them, field by field.
   * Default `process.env`; pass an object (tests) or `false` to read none.
   */
  env?: Readonly<Record<string, string | undefined>> | false;
  /** Injected time and randomness (tests, simulations). */
  clock?: Clock;
  random?: Random;
  /** Extra hooks for your own telemetry. */
  observers?: { client?: ClientObserver; inbound?: InboundObserver };
  /**
   * Prometheus metrics (prom-client): a registry of the mesh's own by default, or pass
   * `{ registry: register }` to share prom-client's global one. `false` turns them off.
   */
  metrics?: MeshMetricsOptions | false;
  /**
   * OpenTelemetry spans through @opentelemetry/api: they cost nothing until an SDK is registered
   * (`startTracing()` from meshless, or your own NodeSDK). Pass a `tracerProvider` to use one that is
   * not global; `false` turns tracing off.
   */
  tracing?: Pick<MeshTracerOptions, 'tracerProvider'> | false;
  /**
   * Zero trust (needs `service`): the instance registers Connect-native, takes its SPIFFE
   * certificate from Consul's CA (renewed and rotated live), calls Connect-native services over
   * mutual TLS verifying who answers, and lets in only the callers its intentions allow, by the
   * verified certificate. Serve with `mesh.createServer(...)`. `true` or options; default
   * $MESHLESS_ZERO_TRUST, else off.
   */
  zeroTrust?: boolean | ZeroTrustOptions;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
const MAX_TIMER_MS = 2_147_483_647;

const shown = (value: unknown): string => JSON.stringify(value)?.slice(0, 80) ?? String(value);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
/** Functions and objects of the user's (logger, clock, hooks, registries): checked by shape only. */
const withMethods = (what: string, ...methods: string[]) =>
  z.custom<unknown>((v) => isObject(v) && methods.every((m) => typeof v[m] === 'function'), {
    error: (iss) => `expected ${what} (${methods.join(', ')}), got ${shown(iss.input)}`,
  });
const anObject = (what: string) =>
  z.custom<unknown>(isObject, { error: (iss) => `expected ${what}, got ${shown(iss.input)}` });
const wholeAtLeast1 = z.custom<number>((v) => Number.isInteger(v) && (v as number) >= 1, {
  error: (iss) => `expected a whole number of at least 1, got ${shown(iss.input)}`,
});
const millis = z.custom<number>(
  (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_TIMER_MS,
  { error: (iss) => `expected a whole number of milliseconds (0 or more), got ${shown(iss.input)}` },
);
/** A time the code only compares with or hands to a timer that clamps it. */
const nonNegative = z
  .number({ error: (iss) => `expected milliseconds (0 or more), got ${shown(iss.input)}` })
  .min(0);
const pathOrFalse = z.custom<string | false>(
  (v) => v === false || (typeof v === 'string' && v.startsWith('/')),
  { error: (iss) => `expected a path starting with / or false, got ${shown(iss.input)}` },
);

/** Datacenter names, checked once so a client never meets a bad list (also `mesh.client()`'s option). */
export const datacentersSchema = z
  .custom<readonly string[]>(Array.isArray, {
    error: (iss) => `expected a list of datacenter names, got ${shown(iss.input)}`,
  })
  .pipe(
    z.array(
      z.custom<string>((dc) => typeof dc === 'string' && dc.trim() !== '', {
        error: (iss) => `expected a datacenter name, got ${shown(iss.input)}`,
      }),
    ),
  );

const portOf = z.custom<number>((p) => Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535, {
  error: 'needs a name and a port (1-65535)',
});

const serviceSchema = z.strictObject({
  // The ServiceDefinition fields: name and port here, the rest as ServiceRegistration checks them.
  name: z.custom<string>((n) => typeof n === 'string' && n !== '', {
    error: 'needs a name and a port (1-65535)',
  }),
  port: portOf,
  id: z.unknown().optional(),
  address: z.unknown().optional(),
  tags: z.unknown().optional(),
  meta: z.unknown().optional(),
  version: z.unknown().optional(),
  zone: z.unknown().optional(),
  region: z.unknown().optional(),
  weight: z.unknown().optional(),
  register: z.boolean().optional(),
  ttlMs: nonNegative.optional(),
  healthPath: pathOrFalse.optional(),
  readinessPath: pathOrFalse.optional(),
  livenessPath: pathOrFalse.optional(),
  metricsPath: pathOrFalse.optional(),
  signalsPath: pathOrFalse.optional(),
  httpCheck: z
    .union([
      z.boolean(),
      z.strictObject({ intervalMs: wholeAtLeast1.optional(), timeoutMs: wholeAtLeast1.optional() }),
    ])
    .optional(),
  drainMs: nonNegative.optional(),
  shutdownGraceMs: millis.optional(),
});

/** The one schema of createMesh's options: an unknown option is an error, as an unknown rule field is. */
export const meshOptionsSchema = z.strictObject({
  service: serviceSchema.optional(),
  // ConsulConnection checks its own options (address, token, TLS) with their paths.
  consul: anObject('Consul options').optional(),
  prefix: z
    .custom<string>((p) => typeof p === 'string' && p.replace(/^\/+|\/+$/g, '') !== '', {
      error: 'must not be empty',
    })
    .optional(),
  rulesDatacenter: z
    .custom<string>((dc) => typeof dc === 'string' && dc.trim() !== '', {
      error: (iss) => `expected a datacenter name, got ${shown(iss.input)}`,
    })
    .optional(),
  cacheDir: z.union([z.string(), z.literal(false)]).optional(),
  logger: z
    .custom<unknown>(
      (l) =>
        (typeof l === 'string' && (LOG_LEVELS as readonly string[]).includes(l)) ||
        (isObject(l) && ['debug', 'info', 'warn', 'error'].every((m) => typeof l[m] === 'function')),
      {
        error: (iss) =>
          `expected a Logger (debug, info, warn, error) or one of ${LOG_LEVELS.join(', ')}, got ${shown(iss.input)}`,
      },
    )
    .optional(),
  sections: z.array(anObject('a RuleSection')).optional(),
  readyTimeoutMs: nonNegative.optional(),
  staleReads: z.boolean().optional(),
  rulesStaleReads: z.boolean().optional(),
  discovery: z
    .strictObject({
      thread: z.enum(['auto', 'worker', 'main']).optional(),
      offThreadAbove: nonNegative.optional(),
      cached: z.boolean().optional(),
    })
    .optional(),
  datacenters: datacentersSchema.optional(),
  http: z
    .strictObject({
      connectionsPerEndpoint: wholeAtLeast1.optional(),
      keepAliveMs: wholeAtLeast1.optional(),
      headersTimeoutMs: wholeAtLeast1.optional(),
    })
    .optional(),
  governance: z
    .strictObject({
      rejectionStatus: z.enum(['passing', 'warning']).optional(),
      statusEntries: z.boolean().optional(),
    })
    .optional(),
  handleSignals: z.boolean().optional(),
  propagate: propagateSchema.optional(),
  env: z.union([z.literal(false), anObject('an environment (name -> value)')]).optional(),
  clock: withMethods('a Clock', 'now').optional(),
  random: withMethods('a Random', 'next').optional(),
  observers: z
    .strictObject({
      client: anObject('client hooks').optional(),
      inbound: anObject('inbound hooks').optional(),
    })
    .optional(),
  metrics: z.union([z.literal(false), anObject('metrics options')]).optional(),
  tracing: z
    .union([z.literal(false), z.strictObject({ tracerProvider: anObject('a TracerProvider').optional() })])
    .optional(),
  zeroTrust: z
    .union([
      z.boolean(),
      z.strictObject({
        inbound: z.enum(['permissive', 'strict']).optional(),
        defaultDecision: z.enum(['consul', 'allow', 'deny']).optional(),
        certificateDir: z.string().min(1).optional(),
      }),
    ])
    .optional(),
});

/** The built-in stderr logger for a level, or the user's Logger (the schema checked which). */
export function resolveLogger(logger: MeshOptions['logger']): Logger {
  return typeof logger === 'object' ? logger : consoleLogger(logger ?? 'warn');
}
