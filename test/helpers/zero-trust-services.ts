import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { freePort } from '@meshless/consul/testing';
import { createMesh, type Mesh, type MeshOptions, type MeshOptionsInput } from 'meshless';
import type { ConnectAgent } from './connect-agent.ts';
import { eventually } from './consul.ts';

export interface ZtService {
  mesh: Mesh;
  server: Server;
  port: number;
  name: string;
  /** What the handler saw of each caller: the verified SPIFFE id, or 'plain'. */
  peers: string[];
}

/**
 * A zero-trust service on the Connect agent: registered Connect-native, serving with
 * mesh.createServer; its handler answers `<name>:<path>` and records the verified caller.
 */
export async function startZtService(
  agent: ConnectAgent,
  name: string,
  prefix: string,
  cleanup: (fn: () => Promise<void> | void) => void,
  extra: Partial<MeshOptionsInput> = {},
  token = agent.masterToken,
): Promise<ZtService> {
  const port = await freePort();
  const peers: string[] = [];
  const mesh = await createMesh({ ...ztMeshOptions(agent, name, prefix, port, true, token), ...extra });
  cleanup(() => mesh.close());
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    peers.push(req.meshless?.peer?.spiffeId ?? 'plain');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${name}:${req.url}`);
  };
  const server = mesh.createServer(mesh.serve(handler));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanup(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { mesh, server, port, name, peers };
}

/** createMesh options for a service on the Connect agent: registered on 127.0.0.1, zero trust on or off. */
export function ztMeshOptions(
  agent: Pick<ConnectAgent, 'address' | 'masterToken'>,
  name: string,
  prefix: string,
  port: number,
  zeroTrust: boolean,
  token = agent.masterToken,
): MeshOptions {
  return {
    consul: { address: agent.address, token },
    prefix,
    cacheDir: false,
    logger: 'silent',
    env: false,
    service: { name, port, address: '127.0.0.1', ttlMs: 5000 },
    zeroTrust,
  };
}

/** Waits (5 s at most) until `mesh` gets a 200 from `service`: discovered, and an intention lets it in. */
export function untilAllowed(mesh: Mesh, service: string): Promise<void> {
  return eventually(
    async () => {
      const res = await mesh.client(service).fetch('/warm');
      await res.text();
      return res.status === 200;
    },
    5000,
    `${service} lets the caller in`,
  );
}
