import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FleetSignals, type FleetSignalsReport, PrometheusSignals, run } from '@meshless/cli';
import { createMesh, type Mesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { runConcurrently, startFleet } from './helpers/backends.ts';
import { consulAddress, eventually, kvClient, putApplied, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { startPrometheus } from './helpers/prometheus.ts';
import {
  canaryAnswer,
  headerCanaryRoutes,
  serveThroughMesh,
  startServedGateway,
} from './helpers/served-mesh.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return (server.address() as AddressInfo).port;
}

/**
 * catalog v1 (two instances) and v2 (one, about 40 ms slower, every 10th request a 503) behind
 * mesh.serve(); a registered gateway routing `x-canary: 1` to v2 and the rest to v1, no retries.
 */
async function startScene() {
  const prefix = uniquePrefix('signals');
  const tag = prefix.slice(-8);
  const service = `catalog-${tag}`;
  const gatewayName = `gw-${tag}`;
  const backends = await startFleet(service, prefix, [
    ['v1', 'v1-a'],
    ['v1', 'v1-b'],
    ['v2', 'v2-a'],
  ]);
  cleanup(() => Promise.all(backends.map((b) => b.stop())).then(() => {}));
  for (const b of backends.filter((x) => x.version === 'v1')) {
    serveThroughMesh(b, (res) => res.end('{}'));
  }
  // v2: about 40 ms slower, and every 10th request fails with a 503.
  serveThroughMesh(backends[2]!, canaryAnswer(10, 40));

  const gateway = await startServedGateway(cleanup, prefix, gatewayName);
  const { kv, connection } = kvClient();
  cleanup(() => connection.close());
  // No retries: each call is one request, so the counts are exact.
  await putApplied(kv, gateway, `${prefix}/services/${service}/policies`, { retry: { attempts: 1 } });
  await putApplied(kv, gateway, `${prefix}/services/${service}/routes`, headerCanaryRoutes);
  const client = gateway.client(service);
  await client.fetch('/warmup').then((r) => r.arrayBuffer());
  await eventually(() => client.status().endpoints === 3, 5000, '3 endpoints');

  return { prefix, service, gatewayName, gateway, client, connection, backends };
}

/** Sends `stable` calls to v1 and `canary` calls to v2 (every 10th of which fails). */
async function sendTraffic(
  client: ReturnType<Mesh['client']>,
  stable: number,
  canary: number,
): Promise<void> {
  await runConcurrently(stable, 8, async () => {
    const res = await client.fetch('/items');
    await res.arrayBuffer();
  });
  await runConcurrently(canary, 4, async () => {
    const res = await client.fetch('/items', { headers: { 'x-canary': '1' } });
    await res.arrayBuffer();
  });
}

describe('fleet signals on a real Consul', () => {
  it('finds the instances through the catalog and reports per-subset counts, error rates and latency that match what was sent', async () => {
    const { service, gatewayName, client, connection, backends } = await startScene();

    // The registration advertises the path; the reader needs nothing else.
    const entries = (await connection.json({ path: `/v1/health/service/${gatewayName}` })) as {
      Service: { Meta: Record<string, string> };
    }[];
    expect(entries[0]!.Service.Meta['meshless-signals']).toBe('/meshless/signals');

    const reader = new FleetSignals({
      consul: connection,
      services: [gatewayName, service],
    });
    cleanup(() => reader.close());
    await reader.read(300); // the baseline (and a first window): the warm-up is before it
    const start = performance.now();

    await sendTraffic(client, 200, 100);
    const windowMs = performance.now() - start;
    const report = await reader.read(windowMs);

    expect(report.instances).toHaveLength(4);
    expect(report.instances.every((i) => i.ok)).toBe(true);
    const subset = (name: string) => report.subsets.find((s) => s.service === service && s.subset === name)!;
    // Exact counts: every call of the window, none before it (the warm-up, the routing checks).
    expect(subset('stable')).toMatchObject({ requests: 200, errors: 0, successRate: 1 });
    expect(subset('canary')).toMatchObject({ requests: 100, errors: 10 });
    expect(subset('canary').successRate).toBeCloseTo(0.9, 10);
    // Latency from merged bucket counts: v2 waits 40 ms, in the (25, 50] ms bucket or above.
    expect(subset('canary').p50).toBeGreaterThan(25);
    expect(subset('canary').p50).toBeLessThanOrEqual(250);
    expect(subset('stable').p50).toBeLessThan(subset('canary').p50);
    expect(subset('canary').p99).toBeGreaterThanOrEqual(subset('canary').p50);
    // Rates over the window: the calls took at most the window, so at least requests/window.
    expect(subset('stable').rps).toBeGreaterThanOrEqual((200 / (windowMs / 1000)) * 0.8);
    expect(report.edges).toContainEqual(
      expect.objectContaining({ caller: gatewayName, service, subset: 'canary', requests: 100, errors: 10 }),
    );
    // The callees' own view, summed over instances by their version meta.
    const served = (version: string) =>
      report.services.find((s) => s.service === service && s.version === version)!;
    expect(served('v1')).toMatchObject({ requests: 200, errors: 0 });
    expect(served('v2')).toMatchObject({ requests: 100, errors: 10 });
    expect(backends[0]!.hits + backends[1]!.hits).toBeGreaterThanOrEqual(200);

    // The rollout's view through the SignalSource interface: calls to the service by one caller.
    const windows = await reader.subsetWindows(service, performance.now() - start, {
      caller: gatewayName,
    });
    const canary = windows.find((w) => w.subset === 'canary')!;
    expect(canary).toMatchObject({ requests: 100, errors: 10 });
    expect(canary.latency.counts.reduce((a, b) => a + b, 0)).toBe(100);
    expect(canary.latency.bounds[0]).toBe(1); // ms
  });

  it('serves signals past the inbound rules, only to GET/HEAD, and reads hostile instances without failing', async () => {
    const prefix = uniquePrefix('signals-hostile');
    const tag = prefix.slice(-8);
    const name = `gw-${tag}`;
    const gateway = await startServedGateway(cleanup, prefix, name);
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    // Every request shed by the inbound rule: the signals path still answers.
    await putApplied(kv, gateway, `${prefix}/services/${name}/inbound`, {
      fault: { abort: { percent: 100, status: 503 } },
    });
    const entries = (await connection.json({ path: `/v1/health/service/${name}` })) as {
      Service: { Port: number };
    }[];
    const base = `http://127.0.0.1:${entries[0]!.Service.Port}`;
    expect((await fetch(`${base}/other`)).status).toBe(503);
    const ok = await fetch(`${base}/meshless/signals`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/json');
    expect(((await ok.json()) as { format: string; service: string }).service).toBe(name);
    expect((await fetch(`${base}/meshless/signals`, { method: 'POST' })).status).toBe(405);

    // Hostile instances in the catalog: garbage, a huge answer, a hang, a bad path in meta.
    const hostile = createServer((req, res) => {
      if (req.url === '/garbage') res.end('{"format":"meshless-signals/1","boundsMs":"x"}');
      else if (req.url === '/huge') res.end(`[${'1,'.repeat(1_200_000)}1]`);
      else if (req.url === '/stream') {
        // Chunked, no length: the reader stops at its cap.
        for (let i = 0; i < 40; i++) res.write('x'.repeat(64 * 1024));
        res.end();
      } else if (req.url === '/hang')
        return; // never answers
      else res.end('not json');
    });
    const port = await listen(hostile);
    const hostileService = `hostile-${tag}`;
    const register = async (id: string, path: string) => {
      await connection.request({
        method: 'PUT',
        path: '/v1/agent/service/register',
        body: JSON.stringify({
          ID: id,
          Name: hostileService,
          Address: '127.0.0.1',
          Port: port,
          Meta: { 'meshless-signals': path },
        }),
      });
      cleanup(async () => {
        await connection.request({ method: 'PUT', path: `/v1/agent/service/deregister/${id}` });
      });
    };
    await register(`${hostileService}-g`, '/garbage');
    await register(`${hostileService}-h`, '/huge');
    await register(`${hostileService}-s`, '/stream');
    await register(`${hostileService}-x`, '/hang');
    await register(`${hostileService}-t`, '/text');
    await register(`${hostileService}-p`, 'http://elsewhere/'); // not a path: skipped

    const reader = new FleetSignals({
      consul: connection,
      services: [name, hostileService],
      limits: { timeoutMs: 500 },
    });
    cleanup(() => reader.close());
    const t0 = performance.now();
    const report = await reader.read(200);
    expect(performance.now() - t0).toBeLessThan(5000); // two rounds of reads, each bounded by the timeout
    const byId = new Map(report.instances.map((i) => [i.id, i]));
    expect(byId.get(`${name}-1`)?.ok).toBe(true);
    expect(byId.get(`${hostileService}-g`)?.error).toMatch(/^bad answer: boundsMs/);
    expect(byId.get(`${hostileService}-h`)?.error).toMatch(/over 1048576 bytes/);
    expect(byId.get(`${hostileService}-s`)?.error).toMatch(/over 1048576 bytes/);
    expect(byId.get(`${hostileService}-x`)?.error).toMatch(/no answer in 500 ms/);
    expect(byId.get(`${hostileService}-t`)?.error).toBe('answer is not JSON');
    expect(byId.has(`${hostileService}-p`)).toBe(false);
  });

  it('advertises nothing with signalsPath: false or metrics: false', async () => {
    const prefix = uniquePrefix('signals-off');
    const tag = prefix.slice(-8);
    const { connection } = kvClient();
    cleanup(() => connection.close());
    await startServedGateway(cleanup, prefix, `off-a-${tag}`, {});
    const a = await createMesh({
      consul: { address: consulAddress() },
      prefix,
      cacheDir: false,
      logger: 'silent',
      metrics: false,
      service: { name: `off-b-${tag}`, port: 1, address: '127.0.0.1', drainMs: 0 },
    });
    cleanup(() => a.close());
    const b = await createMesh({
      consul: { address: consulAddress() },
      prefix,
      cacheDir: false,
      logger: 'silent',
      service: { name: `off-c-${tag}`, port: 1, address: '127.0.0.1', drainMs: 0, signalsPath: false },
    });
    cleanup(() => b.close());
    const meta = async (s: string) => {
      let m: Record<string, string> | undefined;
      await eventually(async () => {
        const e = (await connection.json({ path: `/v1/health/service/${s}` })) as {
          Service: { Meta: Record<string, string> };
        }[];
        m = e[0]?.Service.Meta;
        return m !== undefined;
      });
      return m!;
    };
    expect((await meta(`off-a-${tag}`))['meshless-signals']).toBe('/meshless/signals');
    expect((await meta(`off-b-${tag}`))['meshless-signals']).toBeUndefined();
    expect((await meta(`off-c-${tag}`))['meshless-signals']).toBeUndefined();
    expect(a.signals()).toBeUndefined();
  });

  it('--prometheus: the same aggregates from PromQL over the meshless_* metrics a real Prometheus scraped', async () => {
    const { service, gatewayName, gateway, client } = await startScene();
    const prom = await startPrometheus([{ job: gatewayName, target: `127.0.0.1:${gateway.port}` }], cleanup);
    const sel = `{job="${gatewayName}",service="${service}"}`;
    const total = async () =>
      Number((await prom.query(`sum(meshless_client_requests_total${sel})`))[0]?.value[1] ?? 0);
    // Every series exists (error ones too) and was scraped twice before the window's traffic:
    // increase() does not count the first sample of a series that appears inside the range.
    await sendTraffic(client, 10, 10);
    const made = () =>
      gateway
        .signals()!
        .outbound.filter((r) => r.target === service)
        .reduce((n, r) => n + r.requests, 0);
    const before = made();
    await eventually(
      async () => {
        const seen = await prom.query(`count_over_time(meshless_client_requests_total${sel}[1m])`);
        return (await total()) === before && seen.length > 0 && seen.every((x) => Number(x.value[1]) >= 2);
      },
      10_000,
      'two scrapes of the warm-up',
    );
    const start = performance.now();
    await sendTraffic(client, 200, 100);
    let last = 0;
    await eventually(
      async () => {
        last = await total();
        return last === before + 300;
      },
      10_000,
      `the traffic scraped (${before} before)`,
    ).catch((e) => {
      throw new Error(`${e.message}; last ${last}`);
    });
    const windowMs = Math.ceil(performance.now() - start) + 1500;

    const source = new PrometheusSignals({ url: prom.url });
    // A rollout's baseline reads 5 min of stored history at once; a history shorter than a second is refused.
    expect(source.historyMs).toBe(300_000);
    expect(() => new PrometheusSignals({ url: prom.url, historyMs: 10 })).toThrow(
      /historyMs: expected 0 or 1000/,
    );
    const report = await source.read(windowMs);
    const subset = (name: string) => report.subsets.find((s) => s.service === service && s.subset === name)!;
    // increase() extrapolates to the range's ends (same factor for every series of one target):
    // counts within 25 %, ratios exact up to rounding.
    expect(subset('stable').requests).toBeGreaterThan(150);
    expect(subset('stable').requests).toBeLessThan(250);
    expect(subset('canary').requests).toBeGreaterThan(75);
    expect(subset('canary').requests).toBeLessThan(125);
    expect(subset('canary').successRate).toBeCloseTo(0.9, 2);
    expect(subset('stable').errors).toBe(0);
    expect(subset('canary').p50).toBeGreaterThan(25);
    expect(subset('stable').p50).toBeLessThan(subset('canary').p50);
    expect(report.edges).toContainEqual(
      expect.objectContaining({ caller: gatewayName, service, subset: 'canary' }),
    );

    const windows = await source.subsetWindows(service, windowMs, { caller: gatewayName });
    const canary = windows.find((w) => w.subset === 'canary')!;
    expect(canary.errors / canary.requests).toBeCloseTo(0.1, 2);
    expect(canary.latency.bounds[0]).toBe(1);
    expect(await source.subsetWindows(service, windowMs, { caller: 'nobody' })).toEqual([]);
  });

  it('meshless signals: reads the fleet over --window and prints it (tables, or --json)', async () => {
    const { service, gatewayName, gateway, client } = await startScene();
    // The command's first reading of the gateway: its seq moves by more than our own reads.
    const firstReading = async () => {
      let prev = gateway.signals()!.seq;
      await eventually(
        () => {
          const now = gateway.signals()!.seq;
          const other = now > prev + 1;
          prev = now;
          return other;
        },
        5000,
        'the first reading',
      );
    };
    const cli = async (args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await run([...args, '--consul', consulAddress()], {
        stdout: { write: (x: string) => (stdout += x) },
        stderr: { write: (x: string) => (stderr += x) },
        env: {},
      });
      return { code, stdout, stderr };
    };
    // The traffic runs inside the command's window (between its two readings of each instance).
    const [json] = await Promise.all([
      cli(['signals', gatewayName, service, '--window', '4000', '--json']),
      firstReading().then(() => sendTraffic(client, 50, 20)),
    ]);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as FleetSignalsReport;
    const canary = report.subsets.find((x) => x.service === service && x.subset === 'canary');
    expect(canary).toMatchObject({ requests: 20, errors: 2 });
    expect(report.subsets.find((x) => x.subset === 'stable')?.requests).toBe(50);

    const text = await cli(['signals', gatewayName, service, '--window', '1000']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('CALLS BY SUBSET');
    expect(text.stdout).toMatch(new RegExp(`${service}\\s+canary`));
    expect((await cli(['signals', '--window', '5'])).code).not.toBe(0); // below 1000 ms: a usage error
  });
});
