import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { freePort } from '@meshless/consul/testing';
import { createMesh, type Mesh, type MeshOptionsInput } from 'meshless';
import type { ConnectAgent } from './connect-agent.ts';

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
  const mesh = await createMesh({
    consul: { address: agent.address, token },
    prefix,
    cacheDir: false,
    logger: 'silent',
    env: false,
    service: { name, port, address: '127.0.0.1', ttlMs: 5000 },
    zeroTrust: true,
    ...extra,
  });
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
