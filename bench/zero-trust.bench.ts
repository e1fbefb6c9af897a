// Zero trust on the wire (issue 14): governed calls over meshless's in-process mutual TLS vs the
// same calls in plain HTTP vs a sidecar stand-in (nginx terminating mutual TLS with certificates
// from the same Consul CA and proxying plain HTTP/1.1 keep-alive to the plain server), at 1, 32
// and 256 calls in flight, keep-alive on. A real Consul dev agent (Connect on, ACLs off: intentions
// allow by default); the servers run in another process (bench/fixtures/zt-api-server.ts), nginx in
// its own. Raw undici rows (no mesh) show the same hop without governance.
// Each point is a fixed count of requests or a time cap, whichever comes first, after a warm-up;
// the subjects are interleaved in runs (the order rotates), ratios are taken within a run.
// BENCH_REQUESTS, BENCH_MS (cap per point), BENCH_RUNS, BENCH_CONCURRENCY=1,32 shorten a run;
// BENCH_ONLY=<regex> keeps some callers.
import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent, freePort } from '@meshless/consul/testing';
import { spiffeIdFromSubjectAltName } from '@meshless/core';
import { createMesh, type MeshClient } from 'meshless';
import { Agent } from 'undici';
import { freshTallies, type LoadSubject, runPoint } from './lib/load-point.ts';
import { fmtSpread, median, pairwise, printTable, quantile, spread, writeResults } from './lib/measure.ts';
import { findNginx, type NginxSidecar, startNginxSidecar } from './lib/nginx-sidecar.ts';
import { cpuOfUs, processCpuUs } from './lib/proc-cpu.ts';

const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,32,256').split(',').map(Number);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 10_000);
const CAP_MS = Number(process.env.BENCH_MS ?? 1500);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** `BENCH_ONLY=<regex>` keeps only the matching callers (e.g. under `--cpu-prof`). */
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
const here = new URL('.', import.meta.url).pathname;
// Two cores shared by the callers, the servers, nginx and Consul: a busy machine moves every row.
const loadAtStart = loadavg();

const subjects: LoadSubject[] = [];
const skipped: { name: string; reason: string }[] = [];
function subject(name: string, call: () => Promise<void>): void {
  if (only && !only.test(name)) return;
  subjects.push({ name, call, ...freshTallies() });
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
async function cleanup(): Promise<void> {
  for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {});
}

function startServers(consulAddress: string): Promise<{ child: ChildProcess; zt: number; plain: number }> {
  const child = spawn(process.execPath, [join(here, 'fixtures/zt-api-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CONSUL_ADDRESS: consulAddress },
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`zt-api-server exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, ...JSON.parse(line) }));
  });
}

interface Leaf {
  CertPEM: string;
  PrivateKeyPEM: string;
}
async function consulJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// Everything started is stopped at the end, also when a step fails (no Consul or nginx left over).
try {
  const agent = await ConsulDevAgent.start();
  cleanups.push(() => agent.stop());
  const connection = new ConsulConnection({ address: agent.address });
  cleanups.push(() => connection.close());
  const kv = new ConsulKv(connection);
  // client-throughput's governed row: its full policy stack and a one-subset route, on every target.
  for (const service of ['api', 'api-plain', 'api-sidecar']) {
    await kv.put(`meshless/services/${service}/policies`, {
      timeoutMs: 1000,
      retry: { attempts: 3, budget: { percent: 20 } },
      breaker: { errorPercent: 50, volume: 20 },
      bulkhead: { maxConcurrent: 1000, maxQueue: 100 },
    });
    await kv.put(`meshless/services/${service}/routes`, {
      subsets: { stable: { meta: { version: 'v1' } } },
      routes: [{ name: 'default', to: [{ subset: 'stable', weight: 100 }] }],
    });
  }

  const servers = await startServers(agent.address);
  cleanups.push(
    () =>
      new Promise((resolve) => {
        if (servers.child.exitCode !== null || servers.child.signalCode !== null) return resolve(undefined);
        servers.child.once('exit', resolve);
        servers.child.kill('SIGTERM');
      }),
  );
  const serverPid = servers.child.pid!;

  const roots = await consulJson<{ TrustDomain: string; Roots: { RootCert: string }[] }>(
    `${agent.url}/v1/agent/connect/ca/roots`,
  );
  const rootsPem = roots.Roots.map((r) => r.RootCert).join('\n');
  const leaf = (service: string) => consulJson<Leaf>(`${agent.url}/v1/agent/connect/ca/leaf/${service}`);

  // The callers: `web` with zero trust on (dials Connect-native endpoints over mutual TLS with its
  // own leaf, verifying the server's SPIFFE id), `web-plain` with it off.
  const web = await createMesh({
    consul: { address: agent.address },
    cacheDir: false,
    logger: 'silent',
    env: false,
    service: { name: 'web', port: 1, address: '127.0.0.1', register: false },
    zeroTrust: true,
  });
  cleanups.push(() => web.close());
  const webPlain = await createMesh({
    consul: { address: agent.address },
    cacheDir: false,
    logger: 'silent',
    env: false,
    service: { name: 'web-plain', port: 1, address: '127.0.0.1', register: false },
  });
  cleanups.push(() => webPlain.close());

  async function warmClient(client: MeshClient): Promise<MeshClient> {
    for (let i = 0; i < 100 && client.status().endpoints === 0; i++) {
      await (await client.fetch('/warm').catch(() => new Response())).arrayBuffer().catch(() => {});
      if (client.status().endpoints === 0) await new Promise((r) => setTimeout(r, 50));
    }
    if (client.status().endpoints === 0) throw new Error('no endpoints for a client after 100 tries');
    return client;
  }
  const governed = (client: MeshClient) => async () => {
    const res = await client.fetch('/items/42');
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
  };

  // Raw undici, no mesh: plain, and mutual TLS with web's leaf checking the server names `api`.
  const webLeaf = await leaf('web');
  const rawPlain = new Agent({ keepAliveTimeout: 60_000 });
  const rawTls = new Agent({
    keepAliveTimeout: 60_000,
    connect: {
      cert: webLeaf.CertPEM,
      key: webLeaf.PrivateKeyPEM,
      ca: rootsPem,
      maxCachedSessions: 256,
      // What the mesh's own client checks: a single SPIFFE id of this trust domain naming `api`.
      checkServerIdentity: (_host, cert) => {
        const id = spiffeIdFromSubjectAltName(cert.subjectaltname);
        return id?.service === 'api' && id.trustDomain === roots.TrustDomain
          ? undefined
          : new Error(`server is not api: ${cert.subjectaltname}`);
      },
    },
  });
  cleanups.push(
    () => rawPlain.close(),
    () => rawTls.close(),
  );
  const raw = (dispatcher: Agent, origin: string) => async () => {
    const res = await dispatcher.request({ origin, path: '/items/42', method: 'GET' });
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    await res.body.arrayBuffer();
  };

  const PLAIN = 'plain: mesh.client().fetch, zero trust off';
  const MTLS = 'mTLS: mesh.client().fetch, zero trust on (in-process)';
  const SIDECAR = 'sidecar: mesh.client().fetch -> nginx mTLS -> plain api';
  const RAW_PLAIN = 'undici plain -> plain api (no mesh)';
  const RAW_MTLS = 'undici mTLS -> meshless api (no mesh client)';
  const RAW_SIDECAR = 'undici mTLS -> nginx -> plain api (no mesh)';

  subject(RAW_PLAIN, raw(rawPlain, `http://127.0.0.1:${servers.plain}`));
  subject(PLAIN, governed(await warmClient(webPlain.client('api-plain'))));
  subject(MTLS, governed(await warmClient(web.client('api'))));
  subject(RAW_MTLS, raw(rawTls, `https://127.0.0.1:${servers.zt}`));

  // The sidecar stand-in: one nginx, two TLS ports to the plain server. One presents api's own
  // leaf (for the raw undici caller); the other a leaf for `api-sidecar`, registered Connect-native
  // at nginx's port, so web's governed client dials it over mutual TLS and its SPIFFE check passes.
  const nginxBinary = findNginx();
  let nginx: NginxSidecar | undefined;
  if (!nginxBinary) {
    for (const name of [SIDECAR, RAW_SIDECAR])
      skipped.push({ name, reason: 'nginx not installed (apt-get install -y nginx)' });
  } else {
    const [apiLeaf, sidecarLeaf] = await Promise.all([leaf('api'), leaf('api-sidecar')]);
    const [rawPort, sidecarPort] = [await freePort(), await freePort()];
    try {
      nginx = await startNginxSidecar(nginxBinary, {
        rootsPem,
        upstreamPort: servers.plain,
        sites: [
          { port: rawPort, certPem: apiLeaf.CertPEM, keyPem: apiLeaf.PrivateKeyPEM },
          { port: sidecarPort, certPem: sidecarLeaf.CertPEM, keyPem: sidecarLeaf.PrivateKeyPEM },
        ],
      });
      cleanups.push(() => nginx?.stop());
      await consulJson(`${agent.url}/v1/agent/service/register`, {
        method: 'PUT',
        body: JSON.stringify({
          ID: 'api-sidecar-nginx',
          Name: 'api-sidecar',
          Address: '127.0.0.1',
          Port: sidecarPort,
          Meta: { version: 'v1' },
          Connect: { Native: true },
        }),
      });
      subject(SIDECAR, governed(await warmClient(web.client('api-sidecar'))));
      subject(RAW_SIDECAR, raw(rawTls, `https://127.0.0.1:${rawPort}`));
    } catch (error) {
      for (const name of [SIDECAR, RAW_SIDECAR]) skipped.push({ name, reason: (error as Error).message });
    }
  }

  const by = (name: string) => subjects.find((x) => x.name === name);
  /** a's req/s over b's, run by run. */
  const rpsRatio = (a: string, b: string) => {
    const x = by(a);
    const y = by(b);
    return x && y ? spread(pairwise(x.rps, y.rps, (p, q) => p / q)) : undefined;
  };
  const perReq = (us: number, s: LoadSubject) => (s.requests ? us / s.requests : Number.NaN);
  const totalCpu = (s: LoadSubject) => perReq(s.benchCpuUs + s.serverCpuUs + s.proxyCpuUs, s);

  const results: Record<string, unknown>[] = [];
  const goals: Record<string, string | number>[] = [];
  for (const concurrency of CONCURRENCIES) {
    for (const s of subjects) Object.assign(s, freshTallies());
    const warm = Math.min(REQUESTS, Math.max(500, concurrency * 4));
    const probes = {
      serverCpuUs: () => processCpuUs(serverPid),
      proxyCpuUs: () => cpuOfUs(nginx?.pids() ?? []),
    };
    for (const s of subjects)
      await runPoint(s, { concurrency, count: warm, capMs: CAP_MS, record: false, ...probes });
    for (let run = 0; run < RUNS; run++) {
      // Rotate the order, so no subject always follows the same neighbour.
      for (let i = 0; i < subjects.length; i++)
        await runPoint(subjects[(i + run) % subjects.length]!, {
          concurrency,
          count: REQUESTS,
          capMs: CAP_MS,
          record: true,
          ...probes,
        });
    }
    printTable(
      `Zero trust, ${concurrency} in flight: ${REQUESTS} requests or ${CAP_MS} ms per point, ${RUNS} interleaved runs, median (min–max); CPU µs/req over all runs: bench = this process (the callers), api = the servers' process, nginx = master + worker`,
      [
        ...subjects.map((s) => ({
          caller: s.name,
          'req/s': fmtSpread(spread(s.rps)),
          'p50 ms': quantile(s.latencies, 0.5),
          'p99 ms': quantile(s.latencies, 0.99),
          'bench CPU': perReq(s.benchCpuUs, s),
          'api CPU': perReq(s.serverCpuUs, s),
          'nginx CPU': s.proxyCpuUs ? perReq(s.proxyCpuUs, s) : '-',
          'total CPU': totalCpu(s),
          errors: s.errors,
        })),
        ...skipped.map((k) => ({ caller: k.name, 'req/s': `skipped: ${k.reason.split('\n')[0]}` })),
      ],
    );
    for (const s of subjects) {
      results.push({
        concurrency,
        name: s.name,
        runsRps: s.rps,
        rps: median(s.rps),
        p50: quantile(s.latencies, 0.5),
        p99: quantile(s.latencies, 0.99),
        errors: s.errors,
        requests: s.requests,
        cpuUsPerReq: {
          bench: perReq(s.benchCpuUs, s),
          api: perReq(s.serverCpuUs, s),
          nginx: perReq(s.proxyCpuUs, s),
          total: totalCpu(s),
        },
      });
    }
    const ratioCell = (a: string, b: string) => {
      const r = rpsRatio(a, b);
      return r ? fmtSpread(r, 2) : '-';
    };
    const cpuCell = (name: string) => {
      const s = by(name);
      return s ? totalCpu(s) : '-';
    };
    goals.push({
      'in flight': concurrency,
      'mTLS / plain req/s': ratioCell(MTLS, PLAIN),
      'mTLS / sidecar req/s': ratioCell(MTLS, SIDECAR),
      'CPU µs/req plain': cpuCell(PLAIN),
      'CPU µs/req mTLS': cpuCell(MTLS),
      'CPU µs/req sidecar': cpuCell(SIDECAR),
      'p50 ms mTLS - plain':
        by(MTLS) && by(PLAIN)
          ? quantile(by(MTLS)!.latencies, 0.5) - quantile(by(PLAIN)!.latencies, 0.5)
          : '-',
      'p50 ms sidecar - mTLS':
        by(SIDECAR) && by(MTLS)
          ? quantile(by(SIDECAR)!.latencies, 0.5) - quantile(by(MTLS)!.latencies, 0.5)
          : '-',
      'raw mTLS / raw plain req/s': ratioCell(RAW_MTLS, RAW_PLAIN),
      'raw nginx hop / raw mTLS req/s': ratioCell(RAW_SIDECAR, RAW_MTLS),
    });
  }
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(
    `\nload average (1 5 15 min): ${load(loadAtStart)} at the start, ${load(loadavg())} at the end`,
  );
  printTable(
    'Goals (issue 14): mTLS within 15% of plain at 32 in flight (req/s ratio >= 0.85) and cheaper than the sidecar hop (ratio > 1, less CPU per request); req/s ratios within a run, median (min–max); CPU = all processes',
    goals,
  );
  writeResults('zero-trust', {
    node: process.version,
    requestsPerPoint: REQUESTS,
    capMs: CAP_MS,
    runs: RUNS,
    loadAverage: { start: loadAtStart, end: loadavg() },
    cpu: 'µs per request: bench = process.cpuUsage() of the bench process (the callers); api = /proc/<pid>/stat of the servers process; nginx = /proc/<pid>/stat of the master and its worker',
    skipped,
    results,
  });
} finally {
  await cleanup();
}
