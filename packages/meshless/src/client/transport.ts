import {
  type CallFailure,
  ClosedError,
  CONNECT_ERROR_CODES,
  ConnectError,
  ConnectionResetError,
  type Endpoint,
  MeshlessError,
  RESET_ERROR_CODES,
  TransportError,
} from '@meshless/core';
import { Agent, Dispatcher, Dispatcher1Wrapper } from 'undici';
import type { TimedAttempt } from './attempt-timeouts.ts';
import { OpenRequests, ResponseHandler, type TransportResponse } from './response-handler.ts';
import { type ClientTls, createTlsConnector } from './tls-connector.ts';

// For mesh.dispatcher() (dispatcher.ts): undici's Dispatcher base, whose request/stream/pipeline
// call dispatch(), and an Agent for the hosts that are not services. Re-exported here so this
// stays the package's one undici file.
export { Agent as PassThroughAgent, Dispatcher as UndiciDispatcher, Dispatcher1Wrapper as LegacyDispatcher };
export type DispatchOptions = Dispatcher.DispatchOptions;
export type DispatchController = Dispatcher.DispatchController;
export type ControllerHandler = Dispatcher.DispatchHandler;

/** Whether a dispatch handler has the legacy (v1) shape, as Node's built-in fetch passes one. */
export function isLegacyHandler(handler: object): boolean {
  return typeof (handler as ControllerHandler).onRequestStart !== 'function';
}

/** A handler in undici's controller shape: a legacy (v1) one wrapped as undici 8 wraps it itself. */
export function controllerHandler(handler: object): ControllerHandler {
  return (Dispatcher1Wrapper as unknown as { wrapHandler(h: object): ControllerHandler }).wrapHandler(
    handler,
  );
}

export interface TransportOptions {
  /** Keep-alive connections per endpoint. Default: unlimited (undici's default). */
  connectionsPerEndpoint?: number;
  /** Idle keep-alive time. Default 30 s. */
  keepAliveMs?: number;
  /** No response headers within this time aborts the attempt (the policy timeout usually fires first). Default 300 s. */
  headersTimeoutMs?: number;
}

export { type ClientTls, NO_CERTIFICATE_CODE, PEER_IDENTITY_CODE } from './tls-connector.ts';

export interface SendRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Dispatcher.DispatchOptions['body'];
  /** A live caller or hedge signal: aborts the request, and a streamed body, when it fires. */
  signal?: AbortSignal | undefined;
  /** The attempt's timeout: aborts the request until the call resolves. */
  timed?: TimedAttempt | undefined;
  /** Only the status is wanted (a mirror): the body is dropped as it arrives. */
  discardBody?: boolean;
}

/**
 * HTTP to endpoints over undici, one keep-alive pool per endpoint origin (an undici Agent keys
 * its pools by origin). The only file of the package that imports undici: response-handler.ts
 * states the callbacks the Agent calls as its own interface, and the Agent checks the fit.
 */
export class Transport {
  private readonly agent: Agent;
  private readonly open = new OpenRequests();
  private readonly agentOptions: Agent.Options;
  /** Mutual-TLS pools per target service and datacenter: each verifies the identity it dials. */
  private tlsAgents = new Map<string, Agent>();
  private agentOf = new WeakMap<Endpoint, Agent>();
  /** Pools of an earlier certificate, closing once their requests are done. */
  private readonly retiring = new Set<Agent>();
  private readonly tlsSubscription: { dispose(): void } | undefined;

  constructor(
    options: TransportOptions = {},
    private readonly tls: ClientTls | undefined = undefined,
  ) {
    this.agentOptions = {
      keepAliveTimeout: options.keepAliveMs ?? 30_000,
      headersTimeout: options.headersTimeoutMs ?? 300_000,
      bodyTimeout: 0,
      ...(options.connectionsPerEndpoint ? { connections: options.connectionsPerEndpoint } : {}),
    };
    this.agent = new Agent(this.agentOptions);
    this.tlsSubscription = tls?.onDidChange(() => this.retireTlsPools());
  }

  /** Whether calls to `endpoint` go over mutual TLS: it registered Connect-native and this instance has an identity. */
  secure(endpoint: Endpoint): boolean {
    return endpoint.mtls === true && this.tls !== undefined;
  }

  send(endpoint: Endpoint, req: SendRequest): Promise<TransportResponse> {
    const handler = new ResponseHandler(req.method === 'HEAD', req.body, req.discardBody === true);
    if (req.timed) req.timed.target = handler;
    if (req.signal) handler.link(req.signal);
    // Aborted before it was sent: nothing to dispatch.
    if (!handler.aborted) {
      this.open.add(handler);
      const secure = this.secure(endpoint);
      (secure ? this.tlsAgent(endpoint) : this.agent).dispatch(
        {
          origin: secure ? secureOriginOf(endpoint) : originOf(endpoint),
          method: req.method as Dispatcher.HttpMethod,
          path: req.path,
          headers: req.headers,
          body: req.body ?? null,
        },
        handler,
      );
    }
    return handler.promise;
  }

  /**
   * Closes the pools once their requests are done; whatever is still open after `graceMs` (a
   * response body nobody reads, a hung upstream) is destroyed, so closing never hangs.
   */
  async close(graceMs = 0): Promise<void> {
    this.tlsSubscription?.dispose();
    const agents = [this.agent, ...this.tlsAgents.values(), ...this.retiring];
    const closing = Promise.all(agents.map((a) => a.close()));
    closing.catch(() => {}); // awaited below, within bounds
    if (await settlesWithin(closing, graceMs)) return;
    // Abort what is left through its own handler: undici's destroy() does not end a request
    // whose body is paused once close() has begun, but an abort does.
    this.open.abortAll(new ClosedError('the mesh is closing'));
    if (await settlesWithin(closing, 1000)) return;
    await Promise.all(agents.map((a) => a.destroy()));
  }

  private tlsAgent(endpoint: Endpoint): Agent {
    // Per endpoint object first (the balancer hands the same objects each call): no key string per call.
    let agent = this.agentOf.get(endpoint);
    if (agent !== undefined) return agent;
    const key = `${endpoint.service}\u0001${endpoint.datacenter ?? ''}`;
    agent = this.tlsAgents.get(key);
    if (agent === undefined) {
      agent = new Agent({
        ...this.agentOptions,
        connect: createTlsConnector(this.tls!, endpoint.service, endpoint.datacenter),
      });
      this.tlsAgents.set(key, agent);
    }
    this.agentOf.set(endpoint, agent);
    return agent;
  }

  /**
   * The certificate or the roots changed: new calls get new pools (new connections, the new
   * certificate); the old pools finish what they carry and close. A kept-alive connection must
   * not go on presenting a leaf the servers may no longer trust.
   */
  private retireTlsPools(): void {
    const old = [...this.tlsAgents.values()];
    this.tlsAgents = new Map();
    this.agentOf = new WeakMap();
    for (const agent of old) {
      this.retiring.add(agent);
      const retired = () => this.retiring.delete(agent);
      agent.close().then(retired, retired);
    }
  }
}

/** Whether `promise` settles within `ms` (the timer does not hold the process open). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(resolve, ms, false);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
  return settled;
}

const origins = new WeakMap<Endpoint, string>();
const secureOrigins = new WeakMap<Endpoint, string>();

/** `https://address:port`, for an endpoint called over mutual TLS. */
export function secureOriginOf(endpoint: Endpoint): string {
  let origin = secureOrigins.get(endpoint);
  if (origin === undefined) {
    origin = `https${originOf(endpoint).slice(4)}`;
    secureOrigins.set(endpoint, origin);
  }
  return origin;
}

/** `http://address:port`, computed once per endpoint object (endpoints are immutable). */
export function originOf(endpoint: Endpoint): string {
  let origin = origins.get(endpoint);
  if (origin === undefined) {
    const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
    origin = `http://${host}:${endpoint.port}`;
    origins.set(endpoint, origin);
  }
  return origin;
}

// No connection was made, so nothing was sent; or the connection broke mid-exchange.
const CONNECT_CODES: ReadonlySet<string> = new Set(CONNECT_ERROR_CODES);
const RESET_CODES: ReadonlySet<string> = new Set(RESET_ERROR_CODES);

const NOT_TRANSPORT: ReadonlySet<string> = new Set(['UND_ERR_ABORTED', 'UND_ERR_INVALID_ARG']);
/** A system error code (errno name). */
const ERRNO = /^E[A-Z]+$/;

/** The `code` of a transport failure: its own, or the first of a happy-eyeballs AggregateError. */
function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; errors?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors) && e.errors.length > 0) return codeOf(e.errors[0]);
  return undefined;
}

/** What a typed transport error tells the balancer: never sent (`connect`), or cut off (`reset`). */
export function failureOf(error: unknown): CallFailure | undefined {
  if (!MeshlessError.isInstance(error)) return undefined;
  if (error.code === 'MESHLESS_CONNECT_ERROR') return 'connect';
  if (error.code === 'MESHLESS_CONNECTION_RESET') return 'reset';
  return undefined;
}

/**
 * A failed attempt's error as the caller sees it: undici's and the system's errors of the
 * connection become typed meshless errors naming the service and endpoint (the original as
 * `cause`); anything else (an abort reason, a meshless timeout) is returned as it is.
 */
export function toTransportError(error: unknown, endpoint: Endpoint, service: string): unknown {
  if (MeshlessError.isInstance(error)) return error;
  const code = codeOf(error);
  if (code === undefined) return error;
  const options = { cause: error, address: addressOf(endpoint), endpointId: endpoint.id };
  if (CONNECT_CODES.has(code)) return new ConnectError(service, options);
  if (RESET_CODES.has(code)) return new ConnectionResetError(service, options);
  // Other failures of the connection (ETIMEDOUT, UND_ERR_HEADERS_TIMEOUT, ...); not an abort,
  // nor a bad argument given in code.
  if (
    NOT_TRANSPORT.has(code) ||
    !(
      ERRNO.test(code) ||
      code.startsWith('UND_ERR_') ||
      code.startsWith('ERR_SSL_') ||
      code.startsWith('ERR_TLS_')
    )
  )
    return error;
  return new TransportError(
    `request to ${service} at ${options.address} failed (${code.slice(0, 64)})`,
    service,
    {
      retryable: false,
      ...options,
    },
  );
}

/** `host:port` of an endpoint. */
function addressOf(endpoint: Endpoint): string {
  return originOf(endpoint).slice('http://'.length);
}
