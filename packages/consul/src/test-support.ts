import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConsulConnection } from './connection.ts';

/** For the unit tests: a stand-in HTTP agent with Consul's blocking-query behaviour on scripted paths. */
export type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** GET paths answered from `docs` with blocking; other requests go to `handlers`. */
export async function scriptedAgent(handlers: Record<string, Handler> = {}) {
  const docs = new Map<string, { index: number; body: string; status: number }>();
  const waiting = new Map<string, Set<() => void>>();
  const requests: string[] = [];
  let index = 10;
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push(`${req.method} ${url.pathname}`);
      const handler = handlers[url.pathname];
      if (handler) return handler(req, body, res);
      const answer = () => {
        const doc = docs.get(url.pathname);
        if (!doc) return res.writeHead(500).end('not scripted');
        res
          .writeHead(doc.status, doc.status < 300 ? { 'x-consul-index': String(doc.index) } : {})
          .end(doc.body);
      };
      const want = Number(url.searchParams.get('index') ?? 0);
      const doc = docs.get(url.pathname);
      if (want > 0 && doc && doc.index <= want) {
        const set = waiting.get(url.pathname) ?? new Set();
        waiting.set(url.pathname, set);
        set.add(answer);
        res.on('close', () => set.delete(answer));
        return;
      }
      answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const connection = new ConsulConnection({ address: `127.0.0.1:${(server.address() as AddressInfo).port}` });
  return {
    connection,
    requests,
    set(path: string, body: string, status = 200) {
      docs.set(path, { index: ++index, body, status });
      const set = waiting.get(path);
      waiting.delete(path);
      for (const wake of set ?? []) wake();
    },
    async close() {
      await connection.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
