// A real Prometheus for tests (Debian's package; .ci/run installs it): started on a free port with
// its own config and storage, scraping the given targets every second (or as told).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@meshless/consul/testing';
import { eventually } from './consul.ts';

/** Debian's package (`command -v prometheus`); CI installs it in .ci/run. */
export const PROMETHEUS_PATH = '/usr/bin/prometheus';

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
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

/**
 * A Prometheus of the test's own (own config, storage and port; never :9090) scraping `targets`
 * (host:port, or `{ job, target }` for a job of its own) every `scrapeSeconds` (default 1);
 * stopped by `cleanup`.
 */
export async function startPrometheus(
  targets: string | readonly { job: string; target: string }[],
  cleanup: (fn: () => Promise<void> | void) => void,
  scrapeSeconds = 1,
): Promise<Prometheus> {
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
      `  scrape_interval: ${scrapeSeconds}s`,
      '  scrape_timeout: 1s',
      'scrape_configs:',
      ...(typeof targets === 'string' ? [{ job: 'meshless', target: targets }] : targets).flatMap((t) => [
        `  - job_name: '${t.job}'`,
        '    static_configs:',
        `      - targets: ['${t.target}']`,
      ]),
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
