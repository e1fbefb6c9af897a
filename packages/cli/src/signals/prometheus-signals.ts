// The same figures as FleetSignals, from a Prometheus that scrapes the fleet's /metrics: PromQL's
// increase() over the window on meshless_client_* and meshless_server_* (docs/metrics.md).

import {
  aggregateWindows,
  FiguresAccumulator,
  type LabelledWindow,
  type SignalSource,
  type SignalsRow,
  type SubsetWindow,
} from 'meshless/contract';
import type { FleetSignalsReport } from './fleet-signals.ts';

export interface PrometheusSignalsOptions {
  /** Base URL of the Prometheus HTTP API, e.g. `http://prometheus:9090`. */
  readonly url: string;
  /** The metrics' prefix. Default `meshless_`. */
  readonly prefix?: string;
  /**
   * The target label that names the scraped (calling) service: `job` by default (one scrape job
   * per service, or Consul SD relabelled `__meta_consul_service` to it).
   */
  readonly callerLabel?: string;
  /** A target label carrying the instance's version (relabelled from `__meta_consul_service_metadata_version`); none by default. */
  readonly versionLabel?: string;
  /** Per query. Default 5000 ms. */
  readonly timeoutMs?: number;
  /**
   * How much of the past a rollout's latency baseline reads (SignalSource.historyMs), within the
   * server's retention. Default 300 000 (5 min); 0: the rollout's own `baselineMs` only.
   */
  readonly historyMs?: number;
}

interface Sample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

const MAX_BODY = 16 << 20;
const MAX_SAMPLES = 100_000;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Figures over a window from PromQL; `instances` is empty (Prometheus knows the targets). */
export class PrometheusSignals implements SignalSource {
  private readonly url: string;
  private readonly prefix: string;
  private readonly caller: string;
  private readonly version: string | undefined;
  private readonly timeoutMs: number;
  readonly historyMs: number;

  constructor(options: PrometheusSignalsOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new RangeError(`prometheus: expected an http(s) URL, got ${options.url}`);
    }
    this.url = url.href.replace(/\/+$/, '');
    this.prefix = options.prefix ?? 'meshless_';
    this.caller = options.callerLabel ?? 'job';
    this.version = options.versionLabel;
    for (const [name, v] of [
      ['callerLabel', this.caller],
      ['versionLabel', this.version],
    ] as const) {
      if (v !== undefined && !LABEL.test(v)) throw new RangeError(`${name}: "${v}" is not a label name`);
    }
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(this.prefix)) throw new RangeError(`prefix: "${this.prefix}"`);
    this.timeoutMs = options.timeoutMs ?? 5000;
    const history = options.historyMs ?? 300_000;
    if (!(history === 0 || (history >= 1000 && history <= 86_400_000)))
      throw new RangeError(`historyMs: expected 0 or 1000..86400000, got ${history}`);
    this.historyMs = history;
  }

  async read(windowMs: number): Promise<FleetSignalsReport> {
    const range = rangeOf(windowMs);
    const p = this.prefix;
    const c = this.caller;
    const v = this.version ? `, ${this.version}` : '';
    const [calls, buckets, served, servedBuckets] = await Promise.all([
      this.query(`sum by (${c}, service, subset, outcome) (increase(${p}client_requests_total[${range}]))`),
      this.query(
        `sum by (${c}, service, subset, le) (increase(${p}client_request_duration_seconds_bucket[${range}]))`,
      ),
      this.query(`sum by (service, status_class${v}) (increase(${p}server_requests_total[${range}]))`),
      this.query(`sum by (service, le${v}) (increase(${p}server_request_duration_seconds_bucket[${range}]))`),
    ]);
    const seconds = windowMs / 1000;
    const windows: LabelledWindow[] = [];
    for (const [caller, rows] of group(
      calls,
      buckets,
      (m) => m[c] ?? '',
      'outcome',
      (m) => m.subset ?? '',
    )) {
      windows.push({ service: caller, version: '', window: { seconds, outbound: rows, inbound: [] } });
    }
    const version = (m: Readonly<Record<string, string>>) => (this.version ? (m[this.version] ?? '') : '');
    for (const [ver, rows] of group(served, servedBuckets, version, 'status_class', () => '')) {
      windows.push({ service: '', version: ver, window: { seconds, outbound: [], inbound: rows } });
    }
    return { at: Date.now(), windowMs, instances: [], ...aggregateWindows(windows) };
  }

  async subsetWindows(
    service: string,
    windowMs: number,
    options: { caller?: string } = {},
  ): Promise<readonly SubsetWindow[]> {
    const range = rangeOf(windowMs);
    const sel = [`service="${quoteValue(service)}"`];
    if (options.caller !== undefined) sel.push(`${this.caller}="${quoteValue(options.caller)}"`);
    const s = `{${sel.join(',')}}`;
    const p = this.prefix;
    const [calls, buckets] = await Promise.all([
      this.query(`sum by (service, subset, outcome) (increase(${p}client_requests_total${s}[${range}]))`),
      this.query(
        `sum by (service, subset, le) (increase(${p}client_request_duration_seconds_bucket${s}[${range}]))`,
      ),
    ]);
    const out: SubsetWindow[] = [];
    for (const [, rows] of group(
      calls,
      buckets,
      () => '',
      'outcome',
      (m) => m.subset ?? '',
    )) {
      for (const r of rows) {
        const acc = new FiguresAccumulator();
        acc.add(r, 'outbound', windowMs / 1000);
        const f = acc.figures();
        out.push({ subset: r.subset, requests: f.requests, errors: f.errors, latency: f.latency });
      }
    }
    return out;
  }

  private async query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
      signal: AbortSignal.timeout(this.timeoutMs),
      redirect: 'error',
    });
    const text = await res.text();
    if (text.length > MAX_BODY) throw new Error(`prometheus: answer over ${MAX_BODY} bytes`);
    let body: { status?: unknown; error?: unknown; data?: { resultType?: unknown; result?: unknown } };
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`prometheus: HTTP ${res.status}, not JSON`);
    }
    if (body?.status !== 'success')
      throw new Error(`prometheus: ${String(body?.error ?? `HTTP ${res.status}`)}`);
    const result = body.data?.result;
    if (body.data?.resultType !== 'vector' || !Array.isArray(result))
      throw new Error('prometheus: expected a vector');
    const out: Sample[] = [];
    for (const r of result.slice(0, MAX_SAMPLES)) {
      const metric = r?.metric;
      const value = Number(r?.value?.[1]);
      if (typeof metric !== 'object' || metric === null || !Number.isFinite(value)) continue;
      out.push({ metric, value: Math.max(0, value) });
    }
    return out;
  }
}

/**
 * Rows per group key from a counter by `classLabel` and its cumulative `le` buckets: the
 * buckets become per-bucket counts in ms (the last +Inf).
 */
function group(
  counts: readonly Sample[],
  buckets: readonly Sample[],
  keyOf: (m: Readonly<Record<string, string>>) => string,
  classLabel: string,
  subsetOf: (m: Readonly<Record<string, string>>) => string,
): Map<string, SignalsRow[]> {
  const rows = new Map<string, Map<string, { row: Mutable; les: [number, number][] }>>();
  const at = (m: Readonly<Record<string, string>>) => {
    const key = keyOf(m);
    let byRow = rows.get(key);
    if (!byRow) {
      byRow = new Map();
      rows.set(key, byRow);
    }
    const id = `${m.service ?? ''}\u0001${subsetOf(m)}`;
    let e = byRow.get(id);
    if (!e) {
      const row: Mutable = {
        service: m.service ?? '',
        subset: subsetOf(m),
        requests: 0,
        classes: {},
        rejected: {},
      };
      e = { row, les: [] };
      byRow.set(id, e);
    }
    return e;
  };
  for (const s of counts) {
    const e = at(s.metric);
    const cls = s.metric[classLabel] ?? '';
    e.row.requests += s.value;
    e.row.classes[cls] = (e.row.classes[cls] ?? 0) + s.value;
  }
  for (const s of buckets) {
    const le = s.metric.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.metric.le);
    if (!Number.isNaN(le)) at(s.metric).les.push([le, s.value]);
  }
  const out = new Map<string, SignalsRow[]>();
  for (const [key, byRow] of rows) {
    out.set(
      key,
      [...byRow.values()].map(({ row, les }) => {
        les.sort((a, b) => a[0] - b[0]);
        const bounds = les.filter(([le]) => le !== Number.POSITIVE_INFINITY).map(([le]) => round3(le * 1000));
        const counts = new Array<number>(bounds.length + 1).fill(0);
        let prev = 0;
        les.forEach(([le, cum], i) => {
          const slot = le === Number.POSITIVE_INFINITY ? bounds.length : i;
          counts[slot]! += Math.max(0, cum - prev);
          prev = Math.max(prev, cum);
        });
        return { ...row, latency: { bounds, counts } };
      }),
    );
  }
  return out;
}

type Mutable = {
  service: string;
  subset: string;
  requests: number;
  classes: Record<string, number>;
  rejected: Record<string, number>;
};

function rangeOf(windowMs: number): string {
  if (!(windowMs >= 1000 && windowMs <= 86_400_000))
    throw new RangeError(`windowMs: expected 1000..86400000, got ${windowMs}`);
  return `${Math.round(windowMs)}ms`;
}

function quoteValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
