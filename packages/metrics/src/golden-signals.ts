import type { CounterFamily } from './counter-family.ts';
import type { HistogramCell, HistogramFamily } from './histogram-family.ts';

/** Version tag of the JSON answer (`meshless/contract`'s parseSignals checks it). */
export const SIGNALS_FORMAT = 'meshless-signals/1';
/** Rows per direction in one answer: the families are bounded already; this bounds the answer too. */
export const MAX_SIGNAL_ROWS = 1000;

/** Who is answering: the registration's name, version and id. */
export interface SignalsIdentity {
  readonly service?: string | undefined;
  readonly version?: string | undefined;
  readonly instance?: string | undefined;
}

/** Calls this instance made to one (target, subset), cumulative since start. */
export interface OutboundSignals {
  readonly target: string;
  /** The subset the route chose; `all` for calls to every endpoint. */
  readonly subset: string;
  readonly requests: number;
  /** Calls by outcome (docs/metrics.md, `outcome` values), only those above 0. */
  readonly outcomes: Record<string, number>;
  /** Counts per bucket of `boundsMs` (the last one +Inf), all outcomes. */
  readonly latency: number[];
  readonly sumMs: number;
}

/** Requests this instance answered for one of its services, cumulative since start. */
export interface InboundSignals {
  readonly service: string;
  readonly requests: number;
  /** Requests by status class (`2xx`, `5xx`, ...), only those above 0. */
  readonly statuses: Record<string, number>;
  /** Requests shed before the handler ran, by reason (also counted in `statuses`). */
  readonly rejected: Record<string, number>;
  readonly latency: number[];
  readonly sumMs: number;
}

/**
 * What this instance holds now against one service it calls (gauges, not counts): endpoints
 * ejected by outlier detection and open circuit breakers. Listed only when either is above 0.
 */
export interface TargetHealthSignals {
  readonly target: string;
  readonly ejected: number;
  readonly openBreakers: number;
}

/** The JSON answer of `GET /meshless/signals` (docs/metrics.md, "Fleet signals"). */
export interface GoldenSignals {
  readonly format: typeof SIGNALS_FORMAT;
  readonly service: string | null;
  readonly version: string | null;
  readonly instance: string | null;
  /** Wall clock (ms since the epoch) when these counters started; a new value means a restart. */
  readonly startedAt: number;
  /** Wall clock of this answer. */
  readonly at: number;
  /** Monotonic ms since start: rates divide by its difference between two answers, not by `at`'s. */
  readonly uptimeMs: number;
  /** Answers given so far, this one included. */
  readonly seq: number;
  /** Upper bounds (ms) of the latency buckets; each `latency` array has one more slot (+Inf). */
  readonly boundsMs: number[];
  readonly outbound: OutboundSignals[];
  readonly inbound: InboundSignals[];
  /** Services called with ejected endpoints or open breakers now (absent in older answers). */
  readonly targets: TargetHealthSignals[];
}

export interface GoldenSignalsFamilies {
  readonly clientDurations: HistogramFamily;
  readonly serverDurations: HistogramFamily;
  readonly serverRejected: CounterFamily;
  /** The callers' current ejections and open breakers per target (default: none). */
  readonly targets?: () => TargetHealthSignals[];
}

interface Row {
  requests: number;
  byClass: Record<string, number>;
  latency: number[];
  sumMs: number;
}

/**
 * The golden signals as compact JSON, read from the cells the metrics already keep (the
 * duration histograms count every call by outcome or status class): nothing more is recorded per
 * call, and a scrape walks the series once, summing methods (and endpoints) together.
 */
export class GoldenSignalsView {
  private readonly families: GoldenSignalsFamilies;
  private readonly startedAt = Date.now();
  private readonly started = performance.now();
  private readonly boundsMs: number[];
  private seq = 0;

  constructor(families: GoldenSignalsFamilies) {
    this.families = families;
    this.boundsMs = families.clientDurations.buckets.map((s) => round3(s * 1000));
  }

  snapshot(identity: SignalsIdentity = {}): GoldenSignals {
    const slots = this.boundsMs.length + 1;
    const outbound = new Map<string, Row & { target: string; subset: string }>();
    for (const cell of this.families.clientDurations.allSeries()) {
      const { service, subset, outcome } = cell.labels as Record<string, string>;
      const key = `${service}\u0001${subset}`;
      let row = outbound.get(key);
      if (row === undefined) {
        if (outbound.size >= MAX_SIGNAL_ROWS) continue;
        row = { target: service!, subset: subset || 'all', ...emptyRow(slots) };
        outbound.set(key, row);
      }
      add(row, cell, outcome!);
    }
    const inbound = new Map<string, Row & { service: string; rejected: Record<string, number> }>();
    for (const cell of this.families.serverDurations.allSeries()) {
      const { service, status_class } = cell.labels as Record<string, string>;
      let row = inbound.get(service!);
      if (row === undefined) {
        if (inbound.size >= MAX_SIGNAL_ROWS) continue;
        row = { service: service!, rejected: {}, ...emptyRow(slots) };
        inbound.set(service!, row);
      }
      add(row, cell, status_class!);
    }
    for (const cell of this.families.serverRejected.allSeries()) {
      const row = inbound.get(cell.labels.service!);
      if (row && cell.value > 0) row.rejected[cell.labels.reason!] = cell.value;
    }
    this.seq++;
    return {
      format: SIGNALS_FORMAT,
      service: identity.service ?? null,
      version: identity.version ?? null,
      instance: identity.instance ?? null,
      startedAt: this.startedAt,
      at: Date.now(),
      uptimeMs: round3(performance.now() - this.started),
      seq: this.seq,
      boundsMs: this.boundsMs,
      outbound: [...outbound.values()].map((r) => ({
        target: r.target,
        subset: r.subset,
        requests: r.requests,
        outcomes: r.byClass,
        latency: r.latency,
        sumMs: round3(r.sumMs),
      })),
      inbound: [...inbound.values()].map((r) => ({
        service: r.service,
        requests: r.requests,
        statuses: r.byClass,
        rejected: r.rejected,
        latency: r.latency,
        sumMs: round3(r.sumMs),
      })),
      targets: (this.families.targets?.() ?? []).slice(0, MAX_SIGNAL_ROWS),
    };
  }
}

function emptyRow(slots: number): Row {
  return { requests: 0, byClass: {}, latency: new Array<number>(slots).fill(0), sumMs: 0 };
}

function add(row: Row, cell: HistogramCell, cls: string): void {
  if (cell.count === 0) return;
  row.requests += cell.count;
  row.byClass[cls] = (row.byClass[cls] ?? 0) + cell.count;
  for (let i = 0; i < cell.counts.length; i++) row.latency[i]! += cell.counts[i]!;
  row.sumMs += cell.sum * 1000;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
