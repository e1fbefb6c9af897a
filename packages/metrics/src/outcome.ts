import { KNOWN_HTTP_METHODS, MeshlessError, ownValue } from '@meshless/core';

/**
 * How a call ended, as the `outcome` label. A closed set keeps the label's cardinality fixed:
 * `success` (2xx/3xx or a resolved governed method), `client_error` (4xx), `error` (5xx or an
 * unclassified throw), and one value per way meshless itself refuses or gives up.
 */
export type Outcome =
  | 'success'
  | 'client_error'
  | 'error'
  | 'timeout'
  | 'deadline_exceeded'
  | 'circuit_open'
  | 'rate_limited'
  | 'bulkhead_full'
  | 'concurrency_limited'
  | 'retry_budget_exhausted'
  | 'no_healthy_endpoint'
  | 'cancelled';

export const OUTCOMES: readonly Outcome[] = Object.freeze([
  'success',
  'client_error',
  'error',
  'timeout',
  'deadline_exceeded',
  'circuit_open',
  'rate_limited',
  'bulkhead_full',
  'concurrency_limited',
  'retry_budget_exhausted',
  'no_healthy_endpoint',
  'cancelled',
]);

const BY_CODE: Readonly<Record<string, Outcome>> = {
  MESHLESS_TIMEOUT: 'timeout',
  MESHLESS_DEADLINE_EXCEEDED: 'deadline_exceeded',
  MESHLESS_CIRCUIT_OPEN: 'circuit_open',
  MESHLESS_RATE_LIMITED: 'rate_limited',
  MESHLESS_BULKHEAD_FULL: 'bulkhead_full',
  MESHLESS_CONCURRENCY_LIMITED: 'concurrency_limited',
  MESHLESS_RETRY_BUDGET_EXHAUSTED: 'retry_budget_exhausted',
  MESHLESS_NO_HEALTHY_ENDPOINT: 'no_healthy_endpoint',
};

/**
 * The outcome of a call from what it produced: the error it threw (meshless errors by their
 * stable code, an AbortError as `cancelled`), else the HTTP status (none: `success`).
 */
export function outcomeOf(error: unknown, status?: number): Outcome {
  if (error !== undefined && error !== null) {
    if (MeshlessError.isInstance(error)) return ownValue(BY_CODE, error.code) ?? 'error';
    if ((error as { name?: unknown }).name === 'AbortError') return 'cancelled';
    return 'error';
  }
  if (status === undefined || status < 400) return 'success';
  return status < 500 ? 'client_error' : 'error';
}

/** The `status_class` label values, in index order (see statusClassIndex). */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;

/** Index into STATUS_CLASSES: 0 for 100..199 up to 4 for 500..599, 5 (`other`) outside. */
export function statusClassIndex(status: number): number {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? c - 1 : 5;
}

/** `2xx` for 200..299 and so on; `other` outside 100..599. */
export function statusClass(status: number): string {
  return STATUS_CLASSES[statusClassIndex(status)]!;
}

const KNOWN_METHODS = KNOWN_HTTP_METHODS;

/** The HTTP method as a label: known methods as is (upper case), anything else `_OTHER` (as OTel semconv does). */
export function methodLabel(method: string): string {
  if (KNOWN_METHODS.has(method)) return method;
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}
