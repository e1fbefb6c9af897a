// The `pricing` service of the demo shop: catalog asks it for prices. `/_demo/mode?slow=800` makes
// it slow; a bare `/_demo/mode` reports how many price requests it answered and how many its
// callers gave up on before the answer (the connection closed first).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh } from 'meshless';

let slowMs = 0;
let answered = 0;
let cancelled = 0;

let handler: Parameters<typeof createServer>[1] = () => {};
const server = createServer((req, res) => handler!(req, res));
server.keepAliveTimeout = 60_000;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;

const mesh = await createMesh({
  consul: { address: process.env.CONSUL_HTTP_ADDR },
  prefix: process.env.DEMO_PREFIX ?? 'meshless',
  cacheDir: false,
  logger: 'silent',
  handleSignals: true,
  service: { name: 'pricing', id: 'pricing-a', port, address: '127.0.0.1', version: 'v1', drainMs: 200 },
});

handler = mesh.serve((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/_demo/mode') {
    if (url.searchParams.has('slow')) slowMs = Number(url.searchParams.get('slow'));
    res.end(JSON.stringify({ slowMs, answered, cancelled }));
    return;
  }
  const id = url.pathname.split('/').pop() ?? '';
  const timer = setTimeout(() => {
    answered++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id, price: Number(id) * 10 + 9, currency: 'EUR' }));
  }, slowMs);
  res.on('close', () => {
    if (res.writableEnded) return;
    clearTimeout(timer);
    cancelled++;
  });
});

process.stdout.write(`${JSON.stringify({ event: 'ready', port, id: mesh.serviceId })}\n`);
