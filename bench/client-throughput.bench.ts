// Governed client vs Node's global fetch (what most apps would use instead), the same fetch through
// mesh.dispatcher(), raw undici request()
// and dispatch, and a proxy hop through nginx (standing in for a sidecar), against one upstream in
// another process, at 1, 32 and 256 calls in flight. Every subject runs in short slices, the
// slices interleaved in rounds (so load from elsewhere hits every subject alike); each ratio is
// taken within a round and the table shows its median and range over the rounds.
// BENCH_MS (per subject and concurrency), BENCH_ROUNDS, BENCH_CONCURRENCY=1,32 shorten a run.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent, freePort } from '@meshless/consul/testing';
import { createMesh } from 'meshless';
import { Agent, type Dispatcher } from 'undici';
import { fmtSpread, median, pairwise, printTable, quantile, spread, writeResults } from './lib/measure.ts';

const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,32,256').split(',').map(Number);
const DURATION_MS = Number(process.env.BENCH_MS ?? 6000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const here = new URL('.', import.meta.url).pathname;

function startUpstream(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(here, 'fixtures/echo-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) => {
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve({ child, port: JSON.parse(line).port }),
    );
  });
}

interface Subject {
  name: string;
  call: () => Promise<void>;
  latencies: number[];
  /** Requests/s of each timed slice, one per round. */
  rounds: number[];
  errors: number;
  requests: number;
  /** CPU time of this process and of the upstream process while the subject ran, in µs. */
  clientCpuUs: number;
  upstreamCpuUs: number;
}

/** user + system CPU of another process, in µs (from /proc; 0 where there is no /proc). */
function processCpuUs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return 0;
  }
}

/** Runs `concurrency` loops of `call` for `ms`, adding to the subject's tallies. */
async function slice(subject: Subject, concurrency: number, ms: number): Promise<void> {
  const started = performance.now();
  const end = started + ms;
  const cpu = process.cpuUsage();
  const upstreamCpu = processCpuUs(upstream.child.pid!);
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await subject.call();
          subject.latencies.push(performance.now() - t);
          done++;
        } catch {
          subject.errors++;
        }
      }
    }),
  );
  subject.rounds.push(done / ((performance.now() - started) / 1000));
  subject.requests += done;
  const used = process.cpuUsage(cpu);
  subject.clientCpuUs += used.user + used.system;
  subject.upstreamCpuUs += processCpuUs(upstream.child.pid!) - upstreamCpu;
}

function reset(s: Subject): void {
  Object.assign(s, { latencies: [], rounds: [], errors: 0, requests: 0, clientCpuUs: 0, upstreamCpuUs: 0 });
}

const subjects: Subject[] = [];
/** `BENCH_ONLY=<regex>` runs only the matching subjects (e.g. under `--cpu-prof`). */
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
function subject(name: string, call: () => Promise<void>): void {
  if (only && !only.test(name)) return;
  const s = { name, call } as Subject;
  reset(s);
  subjects.push(s);
}

const upstream = await startUpstream();
const agent = await ConsulDevAgent.start();
const connection = new ConsulConnection({ address: agent.address });
const kv = new ConsulKv(connection);

const raw = new Agent({ keepAliveTimeout: 60_000 });
const rawUrl = `http://127.0.0.1:${upstream.port}`;

// Node's global fetch (its own bundled undici and connection pool): what most apps would use.
const FETCH = 'Node global fetch()';
subject(FETCH, async () => {
  const res = await fetch(`${rawUrl}/items/42`);
  await res.arrayBuffer();
});

// Raw undici request(): the usual undici API, and the governed client's reference.
const REQUEST = 'raw undici request()';
subject(REQUEST, async () => {
  const res = await raw.request({ origin: rawUrl, path: '/items/42', method: 'GET' });
  await res.body.arrayBuffer();
});

// The cheapest undici path: dispatch with a handler that only collects the body. The governed
// client is built on it, so this row shows what governance itself costs.
class CollectHandler implements Dispatcher.DispatchHandler {
  promise: Promise<Buffer>;
  private chunks: Buffer[] = [];
  private resolve!: (body: Buffer) => void;
  private reject!: (error: unknown) => void;
  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
  onRequestStart(): void {}
  onResponseStart(): void {}
  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }
  onResponseEnd(): void {
    this.resolve(Buffer.concat(this.chunks));
  }
  onResponseError(_c: unknown, error: Error): void {
    this.reject(error);
  }
}
const DISPATCH = 'raw undici dispatch (minimal handler)';
subject(DISPATCH, async () => {
  const handler = new CollectHandler();
  raw.dispatch({ origin: rawUrl, path: '/items/42', method: 'GET' }, handler);
  await handler.promise;
});

// The governed client: discovery, routes, balancer, breaker, retry, timeout, all on.
const upstreamMesh = await createMesh({
  consul: { address: agent.address },
  cacheDir: false,
  logger: 'silent',
  service: { name: 'catalog', port: upstream.port, address: '127.0.0.1', version: 'v1', drainMs: 0 },
});
await kv.put('meshless/services/catalog/policies', {
  timeoutMs: 1000,
  retry: { attempts: 3, budget: { percent: 20 } },
  breaker: { errorPercent: 50, volume: 20 },
  bulkhead: { maxConcurrent: 1000, maxQueue: 100 },
});
await kv.put('meshless/services/catalog/routes', {
  subsets: { stable: { meta: { version: 'v1' } } },
  routes: [{ name: 'default', to: [{ subset: 'stable', weight: 100 }] }],
});
// The same upstream under a second name with no rules at all: discovery + balancer only.
const bareMesh = await createMesh({
  consul: { address: agent.address },
  cacheDir: false,
  logger: 'silent',
  service: { name: 'plain', port: upstream.port, address: '127.0.0.1', drainMs: 0 },
});
const gateway = await createMesh({
  consul: { address: agent.address },
  cacheDir: false,
  logger: 'silent',
  service: { name: 'gateway', port: 1, register: false },
});
const client = gateway.client('catalog');
for (let i = 0; i < 50 && client.status().endpoints === 0; i++)
  await (await client.fetch('/warm').catch(() => new Response())).arrayBuffer().catch(() => {});
const plain = gateway.client('plain');
for (let i = 0; i < 50 && plain.status().endpoints === 0; i++)
  await (await plain.fetch('/warm').catch(() => new Response())).arrayBuffer().catch(() => {});
subject('mesh.client().fetch (no rules: discovery + balancer)', async () => {
  const res = await plain.fetch('/items/42');
  await res.arrayBuffer();
});
const FULL = 'mesh.client().fetch (full policy stack)';
subject(FULL, async () => {
  const res = await client.fetch('/items/42');
  await res.arrayBuffer();
});
// Node's global fetch with the mesh's dispatcher: the same client and stages as the row above,
// reached through an unchanged fetch call site (issue 13).
const DISPATCHER = 'global fetch() via mesh.dispatcher() (full policy stack)';
const dispatcher = gateway.dispatcher();
subject(DISPATCHER, async () => {
  const res = await fetch('http://catalog/items/42', { dispatcher } as RequestInit);
  await res.arrayBuffer();
});

// nginx as a sidecar-like proxy hop.
const nginx = spawnSync('sh', ['-c', 'command -v nginx || ls /usr/sbin/nginx'], { encoding: 'utf8' })
  .stdout.trim()
  .split('\n')[0];
let nginxChild: ChildProcess | undefined;
const NGINX = 'raw undici request() via nginx proxy hop';
if (nginx) {
  const dir = mkdtempSync(join(tmpdir(), 'meshless-nginx-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  upstream up { server 127.0.0.1:${upstream.port}; keepalive 64; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }\n`,
  );
  nginxChild = spawn(nginx, ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const viaProxy = `http://127.0.0.1:${port}`;
  subject(NGINX, async () => {
    const res = await raw.request({ origin: viaProxy, path: '/items/42', method: 'GET' });
    await res.body.arrayBuffer();
  });
} else console.log('nginx not installed (apt-get install nginx): proxy-hop row skipped');

// Per concurrency: a warm-up slice each, then ROUNDS rounds of one slice per subject.
const has = (name: string) => subjects.some((x) => x.name === name);
const summary: Record<string, string | number>[] = [];
const dispatcherSummary: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];
for (const concurrency of CONCURRENCIES) {
  for (const s of subjects) await slice(s, concurrency, 300);
  for (const s of subjects) reset(s);
  for (let r = 0; r < ROUNDS; r++)
    for (const s of subjects) await slice(s, concurrency, DURATION_MS / ROUNDS);
  const by = (name: string) => subjects.find((x) => x.name === name);
  /** The subject's req/s over the other's, round by round: median (min–max). */
  const ratio = (s: Subject, base: string) => {
    const b = by(base);
    return b ? spread(pairwise(s.rounds, b.rounds, (x, y) => x / y)) : undefined;
  };
  const cell = (s: Subject, base: string) => {
    const r = ratio(s, base);
    return r ? fmtSpread(r, 2) : '-';
  };
  const requestP50 = by(REQUEST) ? quantile(by(REQUEST)!.latencies, 0.5) : Number.NaN;
  printTable(
    `Client throughput, ${concurrency} in flight, ${DURATION_MS / 1000} s per client in ${ROUNDS} interleaved rounds, upstream in another process; ratios: median (min–max) over the rounds`,
    subjects.map((s) => ({
      client: s.name,
      'req/s': fmtSpread(spread(s.rounds)),
      'x fetch()': cell(s, FETCH),
      'x request()': cell(s, REQUEST),
      'x dispatch': cell(s, DISPATCH),
      'x nginx hop': cell(s, NGINX),
      'x client()': cell(s, FULL),
      'p50 ms': quantile(s.latencies, 0.5),
      'p99 ms': quantile(s.latencies, 0.99),
      'p50 added vs request()': quantile(s.latencies, 0.5) - requestP50,
      'client CPU µs/req': s.clientCpuUs / s.requests,
      'upstream CPU µs/req': s.upstreamCpuUs / s.requests,
      errors: s.errors,
    })),
  );
  for (const s of subjects) {
    results.push({
      concurrency,
      name: s.name,
      roundsRps: s.rounds,
      rps: median(s.rounds),
      p50: quantile(s.latencies, 0.5),
      p99: quantile(s.latencies, 0.99),
      errors: s.errors,
      clientCpuUsPerReq: s.clientCpuUs / s.requests,
      upstreamCpuUsPerReq: s.upstreamCpuUs / s.requests,
      ratios: Object.fromEntries(
        [FETCH, REQUEST, DISPATCH, NGINX, FULL].filter(has).map((b) => [b, ratio(s, b)]),
      ),
    });
  }
  const full = by(FULL);
  if (full) {
    summary.push({
      'in flight': concurrency,
      'full stack req/s': fmtSpread(spread(full.rounds)),
      'x fetch()': cell(full, FETCH),
      'x request()': cell(full, REQUEST),
      'x dispatch': cell(full, DISPATCH),
      'x nginx hop': cell(full, NGINX),
    });
  }
  const viaDispatcher = by(DISPATCHER);
  if (viaDispatcher) {
    dispatcherSummary.push({
      'in flight': concurrency,
      'req/s': fmtSpread(spread(viaDispatcher.rounds)),
      'x fetch()': cell(viaDispatcher, FETCH),
      'x client()': cell(viaDispatcher, FULL),
      'client CPU µs/req': viaDispatcher.clientCpuUs / viaDispatcher.requests,
      'fetch() CPU µs/req': by(FETCH) ? by(FETCH)!.clientCpuUs / by(FETCH)!.requests : '-',
      'client() CPU µs/req': full ? full.clientCpuUs / full.requests : '-',
    });
  }
}
printTable(
  'mesh.client().fetch with the full policy stack, by calls in flight: median (min–max) over the rounds',
  summary,
);
printTable(
  'global fetch() via mesh.dispatcher() (full policy stack), by calls in flight: against plain global fetch() and mesh.client().fetch',
  dispatcherSummary,
);
writeResults('client-throughput', {
  node: process.version,
  durationMs: DURATION_MS,
  rounds: ROUNDS,
  results,
});

nginxChild?.kill('SIGTERM');
await gateway.close();
await upstreamMesh.close();
await bareMesh.close();
await raw.close();
await connection.close();
await agent.stop();
upstream.child.kill('SIGTERM');
