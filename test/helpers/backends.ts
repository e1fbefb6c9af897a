import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh, type Mesh, type MeshOptions } from 'meshless';
import { consulAddress, eventually, kvClient, putApplied, uniquePrefix } from './consul.ts';

export interface Backend {
  name: string;
  version: string;
  port: number;
  server: Server;
  mesh: Mesh;
  /** Requests this backend answered, by path. */
  hits: number;
  mirrored: number;
  /** Replace the behaviour: return false to fall through to the default JSON answer. */
  behave: (req: IncomingMessage, res: ServerResponse) => boolean;
  stop(): Promise<void>;
  /** Closes the HTTP server abruptly (a crash, as far as callers can tell); the registration stays. */
  crash(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 registered in Consul as `service` (meta version), answering `{ version, instance }`. */
export async function startBackend(
  service: string,
  version: string,
  name: string,
  extra: Partial<MeshOptions> = {},
): Promise<Backend> {
  const backend = { name, version, hits: 0, mirrored: 0, behave: () => false } as unknown as Backend;
  const server = createServer((req, res) => {
    if (req.headers['x-meshless-mirror']) backend.mirrored++;
    else backend.hits++;
    req.resume();
    if (backend.behave(req, res)) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version, instance: name, caller: req.headers['x-meshless-caller'] ?? null }));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const mesh = await createMesh({
    consul: { address: consulAddress() },
    prefix: extra.prefix ?? 'meshless',
    cacheDir: false,
    logger: 'silent',
    ...extra,
    service: {
      name: service,
      port,
      address: '127.0.0.1',
      version,
      id: `${service}-${name}`,
      drainMs: 0,
      ...extra.service,
    },
  });
  Object.assign(backend, {
    port,
    server,
    mesh,
    stop: async () => {
      await mesh.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
    crash: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
  return backend;
}

/** Binomial band: the share of `n` trials with probability p stays within mean ± z·sd (z 3.29 ≈ 99.9 %). */
export function binomialBand(n: number, p: number, z = 3.29): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - z * sd, n * p + z * sd];
}

/** Runs `count` calls with at most `concurrency` in flight. */
export async function runConcurrently(
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

/** A mesh that only calls (the gateway of a test), on the shared dev agent. */
export function startGateway(prefix: string, extra: Partial<MeshOptions> = {}): Promise<Mesh> {
  return createMesh({
    consul: { address: consulAddress() },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: { name: 'gateway', port: 1, register: false },
    ...extra,
  });
}

/** Backends of one service, started in order: `[['v1', 'v1-a'], ['v2', 'v2-a']]`. */
export async function startFleet(
  service: string,
  prefix: string,
  members: readonly (readonly [version: string, name: string])[],
): Promise<Backend[]> {
  const backends: Backend[] = [];
  for (const [version, name] of members)
    backends.push(await startBackend(service, version, name, { prefix }));
  return backends;
}

/**
 * A fleet of `service` on `prefix`, a gateway that has discovered all of it, and a KV client,
 * each stopped by `cleanup` (the registrar from useCleanupsAndNoUnhandledRejections).
 */
export async function startShop(
  prefix: string,
  service: string,
  members: readonly (readonly [version: string, name: string])[],
  cleanup: (fn: () => Promise<void> | void) => void,
) {
  const backends = await startFleet(service, prefix, members);
  cleanup(async () => {
    await Promise.all(backends.map((b) => b.stop()));
  });
  const gateway = await startGateway(prefix);
  cleanup(() => gateway.close());
  const { kv, connection } = kvClient();
  cleanup(() => connection.close());
  const client = gateway.client(service);
  await client.fetch('/warmup');
  await eventually(() => client.status().endpoints === members.length, 5000, `${members.length} endpoints`);
  return { backends, gateway, kv, client };
}

/**
 * A mesh that serves `<name>-<id>` (not registered: the test calls it directly) and a way to set
 * its inbound rule, both closed by `cleanup`. `extra`: more createMesh options (observers, metrics).
 */
export async function startServedMesh(
  name: string,
  label: string,
  cleanup: (fn: () => Promise<void> | void) => void,
  extra: Partial<MeshOptions> = {},
) {
  const prefix = uniquePrefix(label);
  const service = `${name}-${prefix.slice(-8)}`;
  const mesh = await createMesh({
    consul: { address: consulAddress() },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: { name: service, port: 1, register: false },
    ...extra,
  });
  cleanup(() => mesh.close());
  const { kv, connection } = kvClient();
  cleanup(() => connection.close());
  const setInbound = (doc: object) => putApplied(kv, mesh, `${prefix}/services/${service}/inbound`, doc);
  return { mesh, prefix, service, setInbound };
}
