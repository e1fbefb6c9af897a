import { type Clock, CONNECT_ERROR_CODES, RESET_ERROR_CODES, systemClock } from '@meshless/core';

/** Whether an outcome is worth another attempt, and (from Retry-After) when at the earliest. */
export interface RetryVerdict {
  readonly retry: boolean;
  /** Server-requested wait before the next attempt, in ms (Retry-After). Replaces the backoff delay. */
  readonly afterMs?: number | undefined;
}

/**
 * Decides on one outcome: `failed` true for a thrown error, false for a returned result (a
 * Response with status 503 is a result). Called on every result, so keep it cheap; build it
 * once, on configuration, never per call.
 */
export type Classify = (value: unknown, failed: boolean) => RetryVerdict;

export const RETRY: RetryVerdict = Object.freeze({ retry: true });
export const NO_RETRY: RetryVerdict = Object.freeze({ retry: false });

/** Categories and status codes a retry rule may name in `on`. */
export type RetryOn = 'connect-error' | 'reset' | 'timeout' | 'circuit-open' | '5xx' | (string & {});

/** Retried when a rule names no `on` list: the request never reached a handler, or a gateway said so. */
export const DEFAULT_RETRY_ON: readonly RetryOn[] = Object.freeze([
  'connect-error',
  'reset',
  '502',
  '503',
  '504',
]);

export const RETRY_ON_PATTERN = /^(connect-error|reset|timeout|circuit-open|5xx|[45]\d\d)$/;

// Error codes (Node net/dns, undici, meshless) per category.
const CATEGORY_CODES: Record<string, readonly string[]> = {
  'connect-error': CONNECT_ERROR_CODES,
  reset: RESET_ERROR_CODES,
  timeout: ['ETIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'MESHLESS_TIMEOUT'],
  'circuit-open': ['MESHLESS_CIRCUIT_OPEN'],
};

/**
 * What failed, as a low-cardinality label for metrics and span events: the status of an answer
 * (`503`), else the error's category (`connect_error`, `reset`, `timeout`, `circuit_open`), else
 * `error`.
 */
export function failureReason(value: unknown): string {
  if (typeof value !== 'object' || value === null) return 'error';
  const v = value as { status?: unknown; statusCode?: unknown };
  const status = typeof v.status === 'number' ? v.status : v.statusCode;
  if (typeof status === 'number') return String(status);
  for (const [label, codes, timeoutNames] of CATEGORY_LABELS) {
    if (matchesCode(value, codes, timeoutNames)) return label;
  }
  return 'error';
}

const CATEGORY_LABELS: readonly (readonly [string, ReadonlySet<string>, boolean])[] = Object.entries(
  CATEGORY_CODES,
).map(([category, codes]) => [category.replace('-', '_'), new Set(codes), category === 'timeout'] as const);

export interface HttpClassifierOptions {
  /** What to retry (see RetryOn); default DEFAULT_RETRY_ON. */
  on?: readonly string[] | undefined;
  /** For Retry-After given as an HTTP date (wallNow). */
  clock?: Clock | undefined;
}

/**
 * The default classifier for HTTP-ish work. Errors match by `code` anywhere in the `cause`
 * chain (undici's fetch wraps ECONNREFUSED in `TypeError: fetch failed`). Results and errors
 * match by a numeric `status` (or `statusCode`). 429 is retried only when it carries
 * Retry-After; any matched status honours Retry-After (seconds or HTTP date).
 */
export function httpClassifier(options: HttpClassifierOptions = {}): Classify {
  const on = options.on ?? DEFAULT_RETRY_ON;
  const clock = options.clock ?? systemClock;
  const codes = new Set<string>();
  const statuses = new Set<number>();
  let any5xx = false;
  let timeoutNames = false;
  for (const entry of on) {
    if (entry === '5xx') any5xx = true;
    else if (/^\d{3}$/.test(entry)) statuses.add(Number(entry));
    else for (const code of CATEGORY_CODES[entry] ?? []) codes.add(code);
    if (entry === 'timeout') timeoutNames = true;
  }
  const retry429 = statuses.delete(429);

  const byStatus = (value: object): RetryVerdict => {
    const v = value as { status?: unknown; statusCode?: unknown };
    const status = typeof v.status === 'number' ? v.status : v.statusCode;
    if (typeof status !== 'number') return NO_RETRY;
    if (status === 429) {
      if (!retry429) return NO_RETRY;
      const afterMs = retryAfterOf(value, clock);
      return afterMs === undefined ? NO_RETRY : { retry: true, afterMs };
    }
    if (!statuses.has(status) && !(any5xx && status >= 500 && status <= 599)) return NO_RETRY;
    const afterMs = retryAfterOf(value, clock);
    return afterMs === undefined ? RETRY : { retry: true, afterMs };
  };

  return (value, failed) => {
    if (typeof value !== 'object' || value === null) return NO_RETRY;
    if (failed && codes.size > 0 && matchesCode(value, codes, timeoutNames)) return RETRY;
    return byStatus(value);
  };
}

function matchesCode(error: object, codes: ReadonlySet<string>, timeoutNames: boolean): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
    if (typeof e.code === 'string' && codes.has(e.code)) return true;
    // AbortSignal.timeout() aborts with a DOMException named TimeoutError.
    if (timeoutNames && e.name === 'TimeoutError') return true;
    // Happy-eyeballs connects fail with an AggregateError of per-address errors.
    if (Array.isArray(e.errors) && e.errors.length > 0 && matchesCode(e.errors[0], codes, timeoutNames)) {
      return true;
    }
    current = e.cause;
  }
  return false;
}

/** Retry-After of a Response-like value (WHATWG Headers or a plain header object), in ms. */
export function retryAfterOf(value: object, clock: Clock = systemClock): number | undefined {
  const headers = (value as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  let raw: unknown;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    raw = (headers as { get(name: string): unknown }).get('retry-after');
  } else {
    raw = (headers as Record<string, unknown>)['retry-after'];
    if (Array.isArray(raw)) raw = raw[0];
  }
  return typeof raw === 'string' ? parseRetryAfter(raw, clock.wallNow()) : undefined;
}

/** Parses Retry-After (RFC 9110: delay-seconds or HTTP-date) into ms from `wallNow`. */
export function parseRetryAfter(value: string, wallNow: number): number | undefined {
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined; // not a date, e.g. "-1" or "1.5"
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - wallNow);
}
