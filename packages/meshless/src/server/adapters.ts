import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InboundGuard } from './inbound-guard.ts';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => unknown;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

export interface HealthSource {
  /** Path of the health endpoint (e.g. `/meshless/health`); undefined: no endpoint. */
  readonly healthPath: string | undefined;
  /** false while draining or closed: the endpoint answers 503 so Consul's HTTP check fails. */
  healthy(): boolean;
}

function answerHealth(health: HealthSource, req: IncomingMessage, res: ServerResponse): boolean {
  if (health.healthPath === undefined || req.url !== health.healthPath) return false;
  const ok = health.healthy();
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ status: ok ? 'passing' : 'critical' }));
  return true;
}

/** A node:http request listener: `http.createServer(mesh.serve(handler))`. */
export function serve(
  guard: Pick<InboundGuard, 'run'>,
  health: HealthSource,
  handler: RequestHandler,
): RequestHandler {
  return (req, res) => {
    if (answerHealth(health, req, res)) return;
    void guard.run(req, res, () => handler(req, res));
  };
}

/** Express/Connect middleware: `app.use(mesh.middleware())`, before the routes. */
export function middleware(guard: Pick<InboundGuard, 'run'>, health: HealthSource): Middleware {
  return (req, res, next) => {
    if (answerHealth(health, req, res)) return;
    void guard.run(req, res, () => next());
  };
}

interface FastifyLike {
  addHook(
    name: 'onRequest',
    hook: (
      request: { raw: IncomingMessage },
      reply: { raw: ServerResponse; hijack(): void },
      done: () => void,
    ) => void,
  ): unknown;
}

/**
 * A Fastify plugin: `fastify.register(mesh.fastifyPlugin)`. Inbound rules run in an onRequest
 * hook; shed requests are answered there and never reach the route. The plugin is marked to
 * skip Fastify's encapsulation so it applies to every route.
 */
export function fastifyPlugin(guard: Pick<InboundGuard, 'run'>, health: HealthSource) {
  const plugin = (fastify: FastifyLike, _opts: unknown, done: () => void) => {
    fastify.addHook('onRequest', (request, reply, next) => {
      if (answerHealth(health, request.raw, reply.raw)) {
        reply.hijack();
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
    done();
  };
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
