// From cumulative answers to figures over a window: the delta of two readings per instance (a
// restart or a reset starts from zero, as Prometheus' increase() does), then sums across instances.

import type { LatencyHistogram } from '../signal-source.ts';
import { emptyHistogram, histogramDelta, histogramQuantile, mergeHistograms } from './latency-histogram.ts';
import type { SignalsAnswer, SignalsRow } from './signals-answer.ts';

/** Outcomes that are no failure of the callee: an answer it gave (4xx is the caller's), or the caller gave up. */
const NOT_ERRORS = new Set(['success', 'client_error', 'cancelled']);

/** Failed calls in a row: outbound, every outcome but success, client_error and cancelled; inbound, 5xx. */
export function rowErrors(row: SignalsRow, direction: 'outbound' | 'inbound'): number {
  let n = 0;
  for (const [k, v] of Object.entries(row.classes)) {
    if (direction === 'inbound' ? k === '5xx' : !NOT_ERRORS.has(k)) n += v;
  }
  return n;
}

/** One instance's rows over a window, and the window's length by the instance's own monotonic clock. */
export interface InstanceWindow {
  readonly seconds: number;
  readonly outbound: readonly SignalsRow[];
  readonly inbound: readonly SignalsRow[];
}

/**
 * What `now` adds to `before` (two answers of one instance, `before` earlier). Without `before`,
 * or when the instance restarted in between (another startedAt), everything in `now` counts: the
 * window is then the instance's uptime.
 */
export function instanceWindow(now: SignalsAnswer, before: SignalsAnswer | undefined): InstanceWindow {
  const base =
    before && before.startedAt === now.startedAt && before.uptimeMs <= now.uptimeMs ? before : undefined;
  const seconds = (now.uptimeMs - (base?.uptimeMs ?? 0)) / 1000;
  return {
    seconds,
    outbound: deltaRows(now.outbound, base?.outbound),
    inbound: deltaRows(now.inbound, base?.inbound),
  };
}

function rowKey(r: SignalsRow): string {
  return `${r.service}\u0001${r.subset}`;
}

function deltaRows(now: readonly SignalsRow[], before: readonly SignalsRow[] | undefined): SignalsRow[] {
  if (!before) return [...now];
  const old = new Map(before.map((r) => [rowKey(r), r]));
  return now.map((r) => deltaRow(r, old.get(rowKey(r))));
}

function deltaRow(now: SignalsRow, before: SignalsRow | undefined): SignalsRow {
  if (!before || before.requests > now.requests) return now;
  const classes: Record<string, number> = Object.create(null);
  for (const [k, v] of Object.entries(now.classes)) {
    const d = v - (before.classes[k] ?? 0);
    if (d < 0) return now; // reset in between
    if (d > 0) classes[k] = d;
  }
  const rejected: Record<string, number> = Object.create(null);
  for (const [k, v] of Object.entries(now.rejected)) {
    const d = v - (before.rejected[k] ?? 0);
    if (d > 0) rejected[k] = d;
  }
  return {
    service: now.service,
    subset: now.subset,
    requests: now.requests - before.requests,
    classes,
    rejected,
    latency: histogramDelta(now.latency, before.latency),
  };
}

/** The figures of one aggregate over the window. Quantiles in ms (NaN without requests). */
export interface SignalFigures {
  readonly requests: number;
  readonly errors: number;
  /** Requests per second: each instance's count over its own window, summed. */
  readonly rps: number;
  /** 1 - errors / requests (1 without requests). */
  readonly successRate: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly latency: LatencyHistogram;
}

/** Sums rows into figures; `add` per row with the window it came from, `figures()` at the end. */
export class FiguresAccumulator {
  private requests = 0;
  private errors = 0;
  private rps = 0;
  private latency: LatencyHistogram | undefined;

  add(row: SignalsRow, direction: 'outbound' | 'inbound', seconds: number): void {
    this.requests += row.requests;
    this.errors += rowErrors(row, direction);
    if (seconds > 0) this.rps += row.requests / seconds;
    this.latency = this.latency ? mergeHistograms(this.latency, row.latency) : row.latency;
  }

  figures(): SignalFigures {
    const latency = this.latency ?? emptyHistogram([]);
    return {
      requests: this.requests,
      errors: this.errors,
      rps: this.rps,
      successRate: this.requests === 0 ? 1 : 1 - this.errors / this.requests,
      p50: histogramQuantile(latency, 0.5),
      p95: histogramQuantile(latency, 0.95),
      p99: histogramQuantile(latency, 0.99),
      latency,
    };
  }
}

/** One instance's window, with who it is (from the catalog). */
export interface LabelledWindow {
  readonly service: string;
  readonly version: string;
  readonly window: InstanceWindow;
}

export interface FleetAggregates {
  /** Calls to `service` by `subset`, from every caller. */
  readonly subsets: readonly ({ service: string; subset: string } & SignalFigures)[];
  /** Calls from `caller` to `service` by `subset`: the service graph's edges. */
  readonly edges: readonly ({ caller: string; service: string; subset: string } & SignalFigures)[];
  /** Requests each service's instances answered, by the instances' `version` meta ('' without). */
  readonly services: readonly ({ service: string; version: string } & SignalFigures)[];
}

/** Sums instance windows by subset, by edge and by (service, version). */
export function aggregateWindows(windows: readonly LabelledWindow[]): FleetAggregates {
  const subsets = new Map<string, { key: { service: string; subset: string }; acc: FiguresAccumulator }>();
  const edges = new Map<
    string,
    { key: { caller: string; service: string; subset: string }; acc: FiguresAccumulator }
  >();
  const services = new Map<string, { key: { service: string; version: string }; acc: FiguresAccumulator }>();
  const at = <K>(m: Map<string, { key: K; acc: FiguresAccumulator }>, id: string, key: K) => {
    let e = m.get(id);
    if (!e) {
      e = { key, acc: new FiguresAccumulator() };
      m.set(id, e);
    }
    return e.acc;
  };
  for (const w of windows) {
    const s = w.window.seconds;
    for (const r of w.window.outbound) {
      at(subsets, `${r.service}\u0001${r.subset}`, { service: r.service, subset: r.subset }).add(
        r,
        'outbound',
        s,
      );
      const edge = { caller: w.service, service: r.service, subset: r.subset };
      at(edges, `${w.service}\u0001${r.service}\u0001${r.subset}`, edge).add(r, 'outbound', s);
    }
    for (const r of w.window.inbound) {
      at(services, `${r.service}\u0001${w.version}`, { service: r.service, version: w.version }).add(
        r,
        'inbound',
        s,
      );
    }
  }
  const out = <K>(m: Map<string, { key: K; acc: FiguresAccumulator }>) =>
    [...m.values()].map((e) => ({ ...e.key, ...e.acc.figures() }));
  return { subsets: out(subsets), edges: out(edges), services: out(services) };
}
