// Governed client vs raw undici vs a proxy hop through nginx (standing in for a sidecar), against
// one upstream in another process, at fixed concurrency, in one run. Requests/s and latency.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent, freePort } from '@meshless/consul/testing';
import { createMesh } from 'meshless';
import { Agent, type Dispatcher } from 'undici';
import { printTable, quantile, writeResults } from './lib/measure.ts';

const CONCURRENCY = 32;
const DURATION_MS = Number(process.env.BENCH_MS ?? 8000);
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
  errors: number;
  seconds: number;
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

/** Runs `CONCURRENCY` loops of `call` for `ms`, adding to the subject's tallies. */
async function slice(subject: Subject, ms: number): Promise<void> {
  const end = performance.now() + ms;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const upstreamCpu = processCpuUs(upstream.child.pid!);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await subject.call();
          subject.latencies.push(performance.now() - t);
        } catch {
          subject.errors++;
        }
      }
    }),
  );
  subject.seconds += (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  subject.clientCpuUs += used.user + used.system;
  subject.upstreamCpuUs += processCpuUs(upstream.child.pid!) - upstreamCpu;
}

const subjects: Subject[] = [];
/** `BENCH_ONLY=<regex>` runs only the matching subjects (e.g. under `--cpu-prof`). */
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
function subject(name: string, call: () => Promise<void>): void {
  if (only && !only.test(name)) return;
  subjects.push({ name, call, latencies: [], errors: 0, seconds: 0, clientCpuUs: 0, upstreamCpuUs: 0 });
}

const upstream = await startUpstream();
const agent = await ConsulDevAgent.start();
const connection = new ConsulConnection({ address: agent.address });
const kv = new ConsulKv(connection);

// Raw undici: the baseline.
const raw = new Agent({ keepAliveTimeout: 60_000 });
const rawUrl = `http://127.0.0.1:${upstream.port}`;
subject('raw undici request', async () => {
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
subject('raw undici dispatch (minimal handler)', async () => {
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
subject('mesh.client().fetch (full policy stack)', async () => {
  const res = await client.fetch('/items/42');
  await res.arrayBuffer();
});

// nginx as a sidecar-like proxy hop.
const nginx = spawnSync('sh', ['-c', 'command -v nginx || ls /usr/sbin/nginx'], { encoding: 'utf8' })
  .stdout.trim()
  .split('\n')[0];
let nginxChild: ChildProcess | undefined;
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
  subject('raw undici via nginx proxy hop', async () => {
    const res = await raw.request({ origin: viaProxy, path: '/items/42', method: 'GET' });
    await res.body.arrayBuffer();
  });
} else console.log('nginx not installed (apt-get install nginx): proxy-hop row skipped');

// Interleaved rounds, so load from elsewhere on the machine hits every subject alike.
const ROUNDS = 8;
for (const s of subjects) await slice(s, 300); // warm-up
for (const s of subjects)
  Object.assign(s, { latencies: [], errors: 0, seconds: 0, clientCpuUs: 0, upstreamCpuUs: 0 });
for (let r = 0; r < ROUNDS; r++) for (const s of subjects) await slice(s, DURATION_MS / ROUNDS);
const results = subjects.map((s) => ({
  name: s.name,
  rps: s.latencies.length / s.seconds,
  p50: quantile(s.latencies, 0.5),
  p99: quantile(s.latencies, 0.99),
  errors: s.errors,
  clientCpuUsPerReq: s.clientCpuUs / s.latencies.length,
  upstreamCpuUsPerReq: s.upstreamCpuUs / s.latencies.length,
}));
const base = results[0]!;
const dispatchRow = results.find((r) => r.name.startsWith('raw undici dispatch'));
printTable(
  `Client throughput, ${CONCURRENCY} in flight, ${DURATION_MS / 1000} s each in ${ROUNDS} interleaved rounds, upstream in another process`,
  results.map((r) => ({
    client: r.name,
    'req/s': r.rps,
    'x raw req/s': r.rps / base.rps,
    'x dispatch': dispatchRow ? r.rps / dispatchRow.rps : Number.NaN,
    'p50 ms': r.p50,
    'p99 ms': r.p99,
    'p50 added ms': r.p50 - base.p50,
    'client CPU µs/req': r.clientCpuUsPerReq,
    'upstream CPU µs/req': r.upstreamCpuUsPerReq,
    errors: r.errors,
  })),
);
writeResults('client-throughput', results);

nginxChild?.kill('SIGTERM');
await gateway.close();
await upstreamMesh.close();
await bareMesh.close();
await raw.close();
await connection.close();
await agent.stop();
upstream.child.kill('SIGTERM');
