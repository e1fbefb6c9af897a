import type { IncomingMessage, ServerResponse } from 'node:http';
import { isThenable, type Logger } from '@meshless/core';
import { answerError, logHandlerError, meshlessErrorResponse } from './error-response.ts';
import type { InFlightRequests } from './in-flight-requests.ts';
import type { InboundGuard } from './inbound-guard.ts';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => unknown;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
/** Express error middleware (four arguments): `app.use(mesh.errorHandler())`, after the routes. */
export type ErrorMiddleware = (
  error: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** What the adapters share with the mesh. */
export interface ServingState {
  /** Path of the health endpoint (e.g. `/meshless/health`, the readiness answer); undefined: no endpoint. */
  readonly healthPath: string | undefined;
  /** Path of the liveness answer (e.g. `/meshless/health/live`); undefined: none. */
  readonly livenessPath: string | undefined;
  /** Path of the readiness answer (e.g. `/meshless/health/ready`); undefined: none. */
  readonly readinessPath: string | undefined;
  /** Path served past the inbound rules (a Prometheus scrape is never limited); undefined: none. */
  readonly metricsPath: string | undefined;
  /** Path of the golden signals the mesh answers itself, past the inbound rules; undefined: none. */
  readonly signalsPath?: string | undefined;
  /** The golden signals' JSON text (read per scrape). */
  signals?(): string;
  /**
   * Zero trust: whether the signals may be read by this request (the caller's certificate against
   * the intentions, plain refused in strict mode), as any call; undefined: anyone may read them.
   */
  authorizeSignals?(req: IncomingMessage): { status: number; reason: string; code: string } | undefined;
  /** Readiness: false while draining or closed, so the health and readiness paths answer 503 (Consul's HTTP check fails). */
  healthy(): boolean;
  /** Liveness: true until close() has finished, drain included (a probe must not restart a draining process). */
  live(): boolean;
  /** Every inbound response until it is finished, so that shutting down answers each one. */
  readonly inFlight: InFlightRequests;
  readonly logger: Logger;
}

/** The health, readiness, liveness and signals paths, answered by the mesh itself (never counted in flight). */
function answerHealth(state: ServingState, req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url;
  // An absent path is undefined too: without a url nothing matches.
  if (url === undefined) return false;
  if (state.signalsPath !== undefined && pathMatches(state.signalsPath, url)) {
    answerSignals(state, req, res);
    return true;
  }
  let ok: boolean;
  if (url === state.healthPath || url === state.readinessPath) ok = state.healthy();
  else if (url === state.livenessPath) ok = state.live();
  else return false;
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(ok ? PASSING : CRITICAL);
  return true;
}

function answerSignals(state: ServingState, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' });
    res.end();
    return;
  }
  // Who calls whom, and how much, is not for whoever can reach the port: the intentions decide.
  const refusal = state.authorizeSignals?.(req);
  if (refusal) {
    res.writeHead(refusal.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ error: refusal.reason, code: refusal.code }));
    return;
  }
  let body: string;
  try {
    body = state.signals?.() ?? '{}';
  } catch (error) {
    // A snapshot that throws is a bug to log, never an exception into the server.
    logHandlerError(state.logger, undefined, error);
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('signals failed\n');
    return;
  }
  res.writeHead(200, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** `path` exactly, or followed by a query string. */
function pathMatches(path: string, url: string): boolean {
  if (!url.startsWith(path)) return false;
  return url.length === path.length || url.charCodeAt(path.length) === 63; // '?'
}

const PASSING = JSON.stringify({ status: 'passing' });
const CRITICAL = JSON.stringify({ status: 'critical' });

/** The metrics path with or without a query string (scrape configs may add `params`). */
function isExempt(state: ServingState, req: IncomingMessage): boolean {
  const path = state.metricsPath;
  const url = req.url;
  return path !== undefined && url !== undefined && pathMatches(path, url);
}

/** A node:http request listener: `http.createServer(mesh.serve(handler))`. */
export function serve(
  guard: Pick<InboundGuard, 'run'>,
  state: ServingState,
  handler: RequestHandler,
): RequestHandler {
  return (req, res) => {
    if (answerHealth(state, req, res)) return;
    if (!state.inFlight.track(res)) return;
    if (isExempt(state, req)) {
      const fail = (error: unknown) => {
        logHandlerError(state.logger, undefined, error);
        answerError(res, error);
      };
      try {
        const result = handler(req, res);
        if (isThenable(result)) result.then(undefined, fail);
      } catch (error) {
        fail(error);
      }
      return;
    }
    void guard.run(req, res, () => handler(req, res));
  };
}

/** Express/Connect middleware: `app.use(mesh.middleware())`, before the routes. */
export function middleware(guard: Pick<InboundGuard, 'run'>, state: ServingState): Middleware {
  return (req, res, next) => {
    if (answerHealth(state, req, res)) return;
    if (!state.inFlight.track(res)) return;
    if (isExempt(state, req)) return next();
    void guard.run(req, res, () => next());
  };
}

/**
 * Express error middleware: answers a meshless error that reached a route with its status (504
 * for an expired deadline, 503 for an open circuit, 429 for a rate limit, ...); passes any other
 * error on to the next error handler. Express only sees it when mounted after the routes.
 */
export function errorHandler(state: Pick<ServingState, 'logger'>): ErrorMiddleware {
  return (error, _req, res, next) => {
    if (res.headersSent || !meshlessErrorResponse(error)) return next(error);
    logHandlerError(state.logger, undefined, error);
    answerError(res, error);
  };
}

interface FastifyReplyLike {
  raw: ServerResponse;
  hijack(): void;
  code(status: number): unknown;
  header(name: string, value: string): unknown;
}

interface FastifyLike {
  addHook(
    name: 'onRequest',
    hook: (request: { raw: IncomingMessage }, reply: FastifyReplyLike, done: () => void) => void,
  ): unknown;
  addHook(
    name: 'onError',
    hook: (
      request: { raw: IncomingMessage },
      reply: FastifyReplyLike,
      error: unknown,
      done: () => void,
    ) => void,
  ): unknown;
}

/**
 * A Fastify plugin: `fastify.register(mesh.fastifyPlugin)`. Inbound rules run in an onRequest
 * hook; shed requests are answered there and never reach the route. A meshless error thrown by
 * a route gets its status in an onError hook, which runs before the error handler (the default
 * one keeps it). The plugin is marked to skip Fastify's encapsulation so it applies to every route.
 */
export function fastifyPlugin(guard: Pick<InboundGuard, 'run'>, state: ServingState) {
  const plugin = (fastify: FastifyLike, _opts: unknown, done: () => void) => {
    fastify.addHook('onRequest', (request, reply, next) => {
      if (answerHealth(state, request.raw, reply.raw)) {
        reply.hijack();
        return;
      }
      if (!state.inFlight.track(reply.raw)) {
        reply.hijack();
        return;
      }
      if (isExempt(state, request.raw)) {
        next();
        return;
      }
      let admitted = false;
      void guard
        .run(request.raw, reply.raw, () => {
          admitted = true;
          next();
        })
        .then(() => {
          if (!admitted) reply.hijack();
        });
    });
    fastify.addHook('onError', (_request, reply, error, next) => {
      const mapped = meshlessErrorResponse(error);
      if (mapped && !reply.raw.headersSent) {
        reply.code(mapped.status);
        for (const [name, value] of Object.entries(mapped.headers)) reply.header(name, value);
      }
      next();
    });
    done();
  };
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
