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

  constructor(options: TransportOptions = {}) {
    this.agent = new Agent({
      keepAliveTimeout: options.keepAliveMs ?? 30_000,
      headersTimeout: options.headersTimeoutMs ?? 300_000,
      bodyTimeout: 0,
      ...(options.connectionsPerEndpoint ? { connections: options.connectionsPerEndpoint } : {}),
    });
  }

  send(endpoint: Endpoint, req: SendRequest): Promise<TransportResponse> {
    const handler = new ResponseHandler(req.method === 'HEAD', req.body, req.discardBody === true);
    if (req.timed) req.timed.target = handler;
    if (req.signal) handler.link(req.signal);
    // Aborted before it was sent: nothing to dispatch.
    if (!handler.aborted) {
      this.open.add(handler);
      this.agent.dispatch(
        {
          origin: originOf(endpoint),
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
    const closing = this.agent.close();
    closing.catch(() => {}); // awaited below, within bounds
    if (await settlesWithin(closing, graceMs)) return;
    // Abort what is left through its own handler: undici's destroy() does not end a request
    // whose body is paused once close() has begun, but an abort does.
    this.open.abortAll(new ClosedError('the mesh is closing'));
    if (await settlesWithin(closing, 1000)) return;
    await this.agent.destroy();
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
  if (NOT_TRANSPORT.has(code) || !(ERRNO.test(code) || code.startsWith('UND_ERR_'))) return error;
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
