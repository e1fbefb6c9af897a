// A hung Consul agent as callers see it: it accepts TCP connections on the agent's port and never
// answers. Plain Node (no vitest), for the hung-start test and the chaos suite.
import { createServer, type Socket } from 'node:net';

export interface HungAgent {
  /** Drops every held connection and stops listening. */
  close(): Promise<void>;
}

export async function hungAgent(port: number, host = '127.0.0.1'): Promise<HungAgent> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
