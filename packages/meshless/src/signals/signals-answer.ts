// The JSON of `GET /meshless/signals` as a reader sees it: from another process, so untrusted.
// @meshless/metrics writes it (golden-signals.ts); this side checks its shape and bounds before use.

import type { LatencyHistogram } from '../signal-source.ts';

export const SIGNALS_ANSWER_FORMAT = 'meshless-signals/1';
/** The registration meta key holding the signals path (the port is the service port). */
export const SIGNALS_META = 'meshless-signals';

const MAX_BOUNDS = 64;
const MAX_ROWS = 1000;
const MAX_CLASSES = 64;
const MAX_NAME = 256;

/** One row of calls made (outbound) or requests served (inbound), cumulative since the instance started. */
export interface SignalsRow {
  /** Outbound: the called service. Inbound: the serving service. */
  readonly service: string;
  /** Outbound: the subset the route chose (`all`: every endpoint). Inbound: ''. */
  readonly subset: string;
  readonly requests: number;
  /** Outbound: by outcome (`success`, `error`, `timeout`, ...). Inbound: by status class (`2xx`, `5xx`, ...). */
  readonly classes: Readonly<Record<string, number>>;
  /** Inbound only: shed before the handler, by reason. */
  readonly rejected: Readonly<Record<string, number>>;
  readonly latency: LatencyHistogram;
}

/** What a caller holds now against a service it calls (gauges): ejected endpoints, open breakers. */
export interface SignalsTargetHealth {
  readonly service: string;
  readonly ejected: number;
  readonly openBreakers: number;
}

export interface SignalsAnswer {
  readonly service: string | null;
  readonly version: string | null;
  readonly instance: string | null;
  readonly startedAt: number;
  readonly at: number;
  readonly uptimeMs: number;
  readonly seq: number;
  readonly outbound: readonly SignalsRow[];
  readonly inbound: readonly SignalsRow[];
  /** Empty when the answer has none (an older instance, or nothing ejected or open). */
  readonly targets: readonly SignalsTargetHealth[];
}

/** A SignalsAnswer from parsed JSON, or a message naming the first bad field. */
export function parseSignalsAnswer(value: unknown): SignalsAnswer | string {
  try {
    return readAnswer(value);
  } catch (error) {
    if (error instanceof ShapeError) return error.message;
    throw error;
  }
}

class ShapeError extends Error {}

function fail(path: string, what: string): never {
  throw new ShapeError(`${path}: ${what}`);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'expected an object');
  return v as Record<string, unknown>;
}

function count(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(path, 'expected a finite number >= 0');
  return v;
}

function name(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length > MAX_NAME) fail(path, `expected a string of at most ${MAX_NAME}`);
  return v;
}

function nameOrNull(v: unknown, path: string): string | null {
  return v === null || v === undefined ? null : name(v, path);
}

function classes(v: unknown, path: string): Record<string, number> {
  const o = v === undefined ? {} : obj(v, path);
  const keys = Object.keys(o);
  if (keys.length > MAX_CLASSES) fail(path, `more than ${MAX_CLASSES} keys`);
  // A null-prototype copy: a key named __proto__ stays a plain entry.
  const out: Record<string, number> = Object.create(null);
  for (const k of keys) out[name(k, `${path} key`)] = count(o[k], `${path}.${k}`);
  return out;
}

function rows(v: unknown, path: string, bounds: readonly number[], key: 'target' | 'service'): SignalsRow[] {
  if (!Array.isArray(v)) fail(path, 'expected an array');
  if (v.length > MAX_ROWS) fail(path, `more than ${MAX_ROWS} rows`);
  return v.map((raw, i) => {
    const p = `${path}[${i}]`;
    const r = obj(raw, p);
    const latency = r.latency;
    if (!Array.isArray(latency) || latency.length !== bounds.length + 1) {
      fail(`${p}.latency`, `expected ${bounds.length + 1} bucket counts`);
    }
    return {
      service: name(r[key], `${p}.${key}`),
      subset: key === 'target' ? name(r.subset, `${p}.subset`) : '',
      requests: count(r.requests, `${p}.requests`),
      classes: classes(
        key === 'target' ? r.outcomes : r.statuses,
        `${p}.${key === 'target' ? 'outcomes' : 'statuses'}`,
      ),
      rejected: key === 'target' ? {} : classes(r.rejected, `${p}.rejected`),
      latency: { bounds, counts: latency.map((c, j) => count(c, `${p}.latency[${j}]`)) },
    };
  });
}

function targets(v: unknown, path: string): SignalsTargetHealth[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(path, 'expected an array');
  if (v.length > MAX_ROWS) fail(path, `more than ${MAX_ROWS} rows`);
  return v.map((raw, i) => {
    const p = `${path}[${i}]`;
    const r = obj(raw, p);
    return {
      service: name(r.target, `${p}.target`),
      ejected: count(r.ejected, `${p}.ejected`),
      openBreakers: count(r.openBreakers, `${p}.openBreakers`),
    };
  });
}

function readAnswer(value: unknown): SignalsAnswer {
  const o = obj(value, '(answer)');
  if (o.format !== SIGNALS_ANSWER_FORMAT) fail('format', `expected "${SIGNALS_ANSWER_FORMAT}"`);
  const b = o.boundsMs;
  if (!Array.isArray(b) || b.length === 0 || b.length > MAX_BOUNDS) {
    fail('boundsMs', `expected 1-${MAX_BOUNDS} numbers`);
  }
  const bounds = b.map((x, i) => count(x, `boundsMs[${i}]`));
  for (let i = 1; i < bounds.length; i++) {
    if (bounds[i]! <= bounds[i - 1]!) fail(`boundsMs[${i}]`, 'bounds must increase');
  }
  return {
    service: nameOrNull(o.service, 'service'),
    version: nameOrNull(o.version, 'version'),
    instance: nameOrNull(o.instance, 'instance'),
    startedAt: count(o.startedAt, 'startedAt'),
    at: count(o.at, 'at'),
    uptimeMs: count(o.uptimeMs, 'uptimeMs'),
    seq: count(o.seq, 'seq'),
    outbound: rows(o.outbound, 'outbound', bounds, 'target'),
    inbound: rows(o.inbound, 'inbound', bounds, 'service'),
    targets: targets(o.targets, 'targets'),
  };
}
