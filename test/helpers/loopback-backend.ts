// A loopback backend registered through its own mesh, and a gateway mesh that calls it. Plain
// Node (no vitest): test/helpers/backends.ts binds them to the shared agent, chaos/ to its own.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh, type Mesh, type MeshOptions, type MeshServiceOptions } from 'meshless';

/** createMesh options over the backend's own; `service` fields override the defaults one by one. */
export type BackendOptions = Omit<Partial<MeshOptions>, 'service'> & {
  service?: Partial<MeshServiceOptions>;
};

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

/** An HTTP server on 127.0.0.1 registered in the agent at `consulAddress` as `service` (meta version), answering `{ version, instance }`. */
export async function startBackendAt(
  consulAddress: string,
  service: string,
  version: string,
  name: string,
  extra: BackendOptions = {},
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
    consul: { address: consulAddress },
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

/** A mesh that only calls (the gateway of a test), on the agent at `consulAddress`. */
export function startGatewayAt(
  consulAddress: string,
  prefix: string,
  extra: Partial<MeshOptions> = {},
): Promise<Mesh> {
  return createMesh({
    consul: { address: consulAddress },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: { name: 'gateway', port: 1, register: false },
    ...extra,
  });
}
