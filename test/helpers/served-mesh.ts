import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh, type Mesh, type MeshOptions } from 'meshless';
import { type Backend, startFleet } from './backends.ts';
import { consulAddress, kvClient, uniquePrefix } from './consul.ts';

type Cleanup = (fn: () => Promise<void> | void) => void;

/** A backend answers through mesh.serve(), so it counts inbound requests and serves its signals. */
export function serveThroughMesh(b: Backend, answer: (res: ServerResponse) => void): void {
  const served = b.mesh.serve((_req, res) => answer(res));
  b.behave = (req, res) => {
    served(req, res);
    return true;
  };
}

/**
 * A registered gateway whose server runs behind mesh.serve() (its signals path and /metrics
 * included), so its calls are the edges a fleet reader sees. Closed by `cleanup`.
 */
export async function startServedGateway(
  cleanup: Cleanup,
  prefix: string,
  name: string,
  extra: Partial<MeshOptions> = {},
): Promise<Mesh & { port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const port = (server.address() as AddressInfo).port;
  const mesh = await createMesh({
    consul: { address: consulAddress() },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: { name, port, address: '127.0.0.1', version: 'g1', id: `${name}-1`, drainMs: 0 },
    ...extra,
  });
  cleanup(() => mesh.close());
  server.on(
    'request',
    mesh.serve((req, res) => {
      if (req.url === '/metrics') mesh.metricsHandler()(req, res);
      else res.end('gateway');
    }),
  );
  return Object.assign(mesh, { port });
}

/** A canary's answer: about `delayMs` slower than stable, and every `failEvery`-th request a 503. */
export function canaryAnswer(failEvery: number, delayMs: number): (res: ServerResponse) => void {
  let requests = 0;
  return (res) => {
    const fail = ++requests % failEvery === 0;
    setTimeout(() => {
      res.statusCode = fail ? 503 : 200;
      res.end('{}');
    }, delayMs);
  };
}

/** Subsets by version, and a route sending `x-canary: 1` to the canary (v2), the rest to stable (v1). */
export const headerCanaryRoutes = {
  subsets: { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } },
  routes: [
    {
      name: 'canary',
      match: { headers: { 'x-canary': { exact: '1' } } },
      to: [{ subset: 'canary', weight: 100 }],
    },
    { name: 'default', to: [{ subset: 'stable', weight: 100 }] },
  ],
};

/**
 * A fresh prefix with catalog instances (`members`, default one v1 and one v2) answering through
 * mesh.serve() as `answers` says (by instance name; default `{}` at once), a served gateway and a
 * KV client, all closed by `cleanup`. The caller writes the routes and policies it needs.
 */
export async function startServedScene(
  cleanup: Cleanup,
  name: string,
  answers: Record<string, (res: ServerResponse) => void>,
  members: readonly (readonly [version: string, name: string])[] = [
    ['v1', 'v1-a'],
    ['v2', 'v2-a'],
  ],
) {
  const prefix = uniquePrefix(name);
  const tag = prefix.slice(-8);
  const service = `catalog-${tag}`;
  const gatewayName = `gw-${tag}`;
  const backends = await startFleet(service, prefix, members);
  cleanup(() => Promise.all(backends.map((b) => b.stop())).then(() => {}));
  for (const [i, [, instance]] of members.entries()) {
    serveThroughMesh(backends[i]!, answers[instance] ?? ((res) => res.end('{}')));
  }
  const gateway = await startServedGateway(cleanup, prefix, gatewayName);
  const { kv, connection } = kvClient();
  cleanup(() => connection.close());
  return { prefix, service, gatewayName, backends, gateway, kv, connection };
}
