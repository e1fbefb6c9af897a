import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@meshless/consul/testing';
import { describe, expect, it } from 'vitest';
import { startBackend, startGateway } from './helpers/backends.ts';
import { eventually, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// A real Prometheus scrapes a mesh's /metrics and the values are read back through its HTTP API:
// the exposition format, the names and the labels are what Prometheus itself accepts and stores.

/** Debian's package (`command -v prometheus`); CI installs it in .ci/run. */
const PROMETHEUS_PATH = '/usr/bin/prometheus';

const cleanup = useCleanupsAndNoUnhandledRejections();

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

interface Prometheus {
  url: string;
  /** An instant query; the samples of the resulting vector. */
  query(promql: string): Promise<Sample[]>;
}

/** Stops a child: SIGTERM, SIGKILL after `graceMs`; resolves once it has exited. */
async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A Prometheus of the test's own (own config, storage and port; never :9090) scraping `target` every second. */
async function startPrometheus(target: string): Promise<Prometheus> {
  if (!existsSync(PROMETHEUS_PATH)) {
    throw new Error(
      `Prometheus not found at ${PROMETHEUS_PATH}: this test has a real Prometheus scrape a mesh. ` +
        'Install it with `apt-get update && apt-get install -y --no-install-recommends prometheus` ' +
        '(.ci/run does this on CI).',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'meshless-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: meshless',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'prometheus.log');
  const log = openSync(logFile, 'a');
  const child = spawn(
    PROMETHEUS_PATH,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  cleanup(async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  });
  const logTail = () => readFileSync(logFile, 'utf8').trim().split('\n').slice(-10).join('\n');
  let failure: Error | undefined;
  child.once('error', (e) => {
    failure = new Error(`could not start ${PROMETHEUS_PATH}: ${e.message}`);
  });
  child.once('exit', (code, signal) => {
    failure ??= new Error(`prometheus exited (${code ?? signal}); its log:\n${logTail()}`);
  });
  const ready = async () => {
    if (failure) throw failure;
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false; // not listening yet
    }
  };
  await eventually(ready, 10_000, `prometheus on ${url} to be ready`);
  return {
    url,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { result: Sample[] } };
      if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error}`);
      return body.data!.result;
    },
  };
}

/** The single value of a query whose vector has at most one sample (undefined when empty). */
async function scalar(prom: Prometheus, promql: string): Promise<number | undefined> {
  const result = await prom.query(promql);
  if (result.length > 1) throw new Error(`${promql} returned ${result.length} samples`);
  return result[0] ? Number(result[0].value[1]) : undefined;
}

describe('a real Prometheus scraping a mesh', () => {
  it('stores the calls a gateway made: total, outcome split, duration histogram, and the target is up', async () => {
    const prefix = uniquePrefix('prom');
    const service = `orders-${prefix.slice(-8)}`;
    const backend = await startBackend(service, 'v1', 'a', { prefix });
    cleanup(() => backend.stop());
    backend.behave = (req, res) => {
      if (req.url !== '/fail') return false;
      res.writeHead(503);
      res.end();
      return true;
    };
    const gateway = await startGateway(prefix);
    cleanup(() => gateway.close());
    const client = gateway.client(service);
    await eventually(() => client.status().endpoints === 1, 5000, 'the backend in discovery');

    // Exactly 7 governed calls: 4 answered 200, 3 answered 503 (no retries by default).
    const paths = ['/ok', '/fail', '/ok', '/fail', '/ok', '/fail', '/ok'];
    const statuses: number[] = [];
    for (const path of paths) {
      const res = await client.fetch(path);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 503, 200, 503, 200, 503, 200]);

    const server = createServer(gateway.metricsHandler());
    const metricsPort = await freePort();
    await new Promise<void>((r) => server.listen(metricsPort, '127.0.0.1', r));
    cleanup(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    const prom = await startPrometheus(`127.0.0.1:${metricsPort}`);
    const sel = `service="${service}"`;
    let total: number | undefined;
    await eventually(
      async () => {
        total = await scalar(prom, `sum(meshless_client_requests_total{${sel}})`);
        if (total === paths.length) return true;
        await new Promise((r) => setTimeout(r, 100)); // Prometheus scrapes once a second
        return false;
      },
      15_000,
      `prometheus to store ${paths.length} calls`,
    ).catch((e: Error) => {
      throw new Error(`${e.message} (last sum seen: ${total})`);
    });

    const byOutcome = Object.fromEntries(
      (await prom.query(`sum by (outcome) (meshless_client_requests_total{${sel}})`))
        .map((s) => [s.metric.outcome, Number(s.value[1])] as const)
        .filter(([, value]) => value > 0),
    );
    expect(byOutcome).toEqual({ success: 4, error: 3 });
    expect(await scalar(prom, `sum(meshless_client_request_duration_seconds_count{${sel}})`)).toBe(7);
    expect(await scalar(prom, `sum(meshless_client_request_duration_seconds_bucket{${sel},le="+Inf"})`)).toBe(
      7,
    );
    const up = await prom.query('up{job="meshless"}');
    expect(up).toHaveLength(1);
    expect(up[0]!.metric.instance).toBe(`127.0.0.1:${metricsPort}`);
    expect(up[0]!.value[1]).toBe('1');
  });
});
