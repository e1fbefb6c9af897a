// Cost of the inbound side: requests/s of a node:http server answering through mesh.serve() (no
// inbound rules: health and metrics-path checks, in-flight tracking, the guard's bookkeeping,
// server metrics) next to the same handler bare, at 32 in flight from an undici pool in this
// process. Slices of the subjects are interleaved so load from elsewhere hits each alike.
// MESHLESS_COMPARE=/path/to/other/meshless/dist/index.js adds a third subject built elsewhere
// (e.g. the previous commit) for a before/after reading. Then the in-flight tracker alone (what
// shutdown needs from every request): ns per tracked response, several runs.
import { createServer, IncomingMessage, type RequestListener, type Server, ServerResponse } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { createMesh, type Mesh } from 'meshless';
import { Pool } from 'undici';
// Not exported by meshless: the tracker itself, for its cost per request in isolation.
import { InFlightRequests } from '../packages/meshless/src/server/in-flight-requests.ts';
import { measureNs, median, printTable, writeResults } from './lib/measure.ts';

const CONCURRENCY = 32;
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 2000);
const SLICES = Number(process.env.BENCH_SLICES ?? 5);

async function listen(handler: RequestListener): Promise<{ server: Server; pool: Pool }> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    connections: CONCURRENCY,
  });
  return { server, pool };
}

// No Consul: the mesh starts from empty rules after a short ready timeout, so the guard runs with no rules.
const meshOptions = {
  consul: { address: '127.0.0.1:1' },
  cacheDir: false as const,
  logger: 'silent' as const,
  readyTimeoutMs: 50,
  service: { name: 'bench-inbound', port: 1, register: false },
};
const answer: RequestListener = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('ok');
};

const meshes: Mesh[] = [];
const subjects: { name: string; pool: Pool; server: Server; rps: number[] }[] = [];
subjects.push({ name: 'bare node:http', ...(await listen(answer)), rps: [] });
const mesh = await createMesh(meshOptions);
meshes.push(mesh);
subjects.push({ name: 'mesh.serve()', ...(await listen(mesh.serve(answer))), rps: [] });
if (process.env.MESHLESS_COMPARE) {
  const other = (await import(process.env.MESHLESS_COMPARE)) as typeof import('meshless');
  const before = await other.createMesh(meshOptions);
  meshes.push(before);
  subjects.push({ name: 'mesh.serve() (compare)', ...(await listen(before.serve(answer))), rps: [] });
}

async function slice(pool: Pool, ms: number): Promise<number> {
  const end = performance.now() + ms;
  const started = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const res = await pool.request({ path: '/work', method: 'GET' });
        await res.body.dump();
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

for (const s of subjects) await slice(s.pool, 500); // warm-up
for (let i = 0; i < SLICES; i++) for (const s of subjects) s.rps.push(await slice(s.pool, SLICE_MS));

const bare = median(subjects[0]!.rps);
const rows = subjects.map((s) => ({
  subject: s.name,
  'req/s (median)': median(s.rps),
  'req/s min': Math.min(...s.rps),
  'req/s max': Math.max(...s.rps),
  'us/request over bare': (1e6 / median(s.rps) - 1e6 / bare).toFixed(2),
}));
printTable(`inbound: ${CONCURRENCY} in flight, ${SLICES} slices of ${SLICE_MS} ms each`, rows);

// A response that is created and closed, with and without tracking; the difference is the tracker.
const tracker = new InFlightRequests();
const response = () => new ServerResponse(new IncomingMessage(new Socket()));
const trackNs: number[] = [];
for (let run = 0; run < 5; run++) {
  const bareNs = measureNs('response', () => response().emit('close'), 100_000, 7).ns;
  const trackedNs = measureNs(
    'tracked response',
    () => {
      const res = response();
      tracker.track(res);
      res.emit('close');
    },
    100_000,
    7,
  ).ns;
  trackNs.push(trackedNs - bareNs);
}
const trackRow = {
  'ns per tracked response (median)': median(trackNs),
  min: Math.min(...trackNs),
  max: Math.max(...trackNs),
};
printTable('in-flight tracking, 5 runs', [trackRow]);
writeResults('inbound-serve', {
  concurrency: CONCURRENCY,
  sliceMs: SLICE_MS,
  subjects: rows,
  tracking: trackRow,
});

for (const s of subjects) {
  await s.pool.close();
  s.server.closeAllConnections();
  await new Promise((r) => s.server.close(r));
}
for (const m of meshes) await m.close();
