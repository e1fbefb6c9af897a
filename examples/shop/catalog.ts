// The `catalog` service of the demo shop: a plain node:http server behind mesh.serve(), registered
// in Consul with its version (subsets select on it). `/_demo/mode?fail=1` makes it answer 500s,
// `?slow=200` adds latency, so the demo can break it on purpose. A bare `/_demo/mode` changes
// nothing and reports the mode and `hits` (item requests served), so the demo can count retries.
// `/items/<id>/price` asks the pricing service, within the caller's deadline.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh } from 'meshless';

const version = process.env.CATALOG_VERSION ?? 'v1';
const instance = process.env.CATALOG_INSTANCE ?? `${version}-${process.pid}`;
let fail = false;
let slowMs = 0;
let hits = 0;
/** Calls to pricing that ended with the gateway's deadline (DeadlineExceededError). */
let deadlineExceeded = 0;

const items: Record<string, { name: string; price: number }> = {
  '1': { name: 'espresso cup', price: 9 },
  '2': { name: 'moka pot', price: 35 },
  '3': { name: 'grinder', price: 120 },
};

let handler: Parameters<typeof createServer>[1] = () => {};
const server = createServer((req, res) => handler!(req, res));
server.keepAliveTimeout = 60_000;
await new Promise<void>((r) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;

const mesh = await createMesh({
  consul: { address: process.env.CONSUL_HTTP_ADDR },
  prefix: process.env.DEMO_PREFIX ?? 'meshless',
  cacheDir: false,
  logger: 'silent',
  handleSignals: true,
  service: {
    name: 'catalog',
    id: `catalog-${instance}`,
    port,
    address: '127.0.0.1',
    version,
    zone: 'zone-a',
    drainMs: 200,
  },
});

handler = mesh.serve((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/_demo/mode') {
    if (url.searchParams.has('fail')) fail = url.searchParams.get('fail') === '1';
    if (url.searchParams.has('slow')) slowMs = Number(url.searchParams.get('slow'));
    res.end(JSON.stringify({ fail, slowMs, hits, deadlineExceeded }));
    return;
  }
  const price = /^\/items\/(\w+)\/price$/.exec(url.pathname);
  if (price) {
    // A call of this service's own, made inside the caller's deadline (mesh.serve set it).
    void mesh
      .client('pricing')
      .fetch(`/prices/${price[1]}`)
      .then(async (answer) => {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(await answer.text());
      })
      .catch((error: { code?: string }) => {
        if (error.code === 'MESHLESS_DEADLINE_EXCEEDED') deadlineExceeded++;
        res.writeHead(504, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: error.code ?? String(error), instance }));
      });
    return;
  }
  hits++;
  const answer = () => {
    if (fail) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'catalog is broken (demo)', instance }));
      return;
    }
    const id = url.pathname.split('/').pop() ?? '';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id, item: items[id] ?? null, version, instance }));
  };
  if (slowMs > 0) setTimeout(answer, slowMs);
  else answer();
});

process.stdout.write(`${JSON.stringify({ event: 'ready', instance, version, port, id: mesh.serviceId })}\n`);
