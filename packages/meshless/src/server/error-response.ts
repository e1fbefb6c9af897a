import type { ServerResponse } from 'node:http';
import { type Logger, MeshlessError, ownValue } from '@meshless/core';

/** What an adapter answers for an error that reached a handler. */
export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

// Ran out of time waiting on something: the gateway-timeout family. Refused by a guard in front of
// a dependency (or none to call): unavailable for now. Rate limited: 429 with Retry-After, as the
// inbound guard answers its own limit. Every other meshless error is a plain 500.
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  MESHLESS_DEADLINE_EXCEEDED: 504,
  MESHLESS_TIMEOUT: 504,
  MESHLESS_CIRCUIT_OPEN: 503,
  MESHLESS_BULKHEAD_FULL: 503,
  MESHLESS_CONCURRENCY_LIMITED: 503,
  MESHLESS_NO_HEALTHY_ENDPOINT: 503,
  MESHLESS_RETRY_BUDGET_EXHAUSTED: 503,
  MESHLESS_RATE_LIMITED: 429,
};

/**
 * The HTTP answer for a meshless error (by its stable code), or undefined for any other error:
 * the one mapping every adapter uses (`serve()`, `errorHandler()`, the Fastify plugin).
 */
export function meshlessErrorResponse(error: unknown): ErrorResponse | undefined {
  if (!MeshlessError.isInstance(error)) return undefined;
  const status = ownValue(STATUS_BY_CODE, error.code) ?? 500;
  const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
  const headers: Record<string, string> =
    status === 429 && typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs > 0
      ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) }
      : {};
  return { status, headers };
}

/**
 * Answers `error` on `res` when nothing was sent yet: the mapped status for a meshless error
 * (body `{ error, code }`, e.g. `{ "error": "deadline_exceeded", "code": "MESHLESS_DEADLINE_EXCEEDED" }`),
 * else 500 `{ "error": "internal" }`. A response already under way is ended as it is.
 */
export function answerError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const mapped = meshlessErrorResponse(error);
  const code = mapped ? (error as MeshlessError).code : undefined;
  const label = mapped && mapped.status !== 500 ? code!.replace(/^MESHLESS_/, '').toLowerCase() : 'internal';
  res.writeHead(mapped?.status ?? 500, { 'content-type': 'application/json', ...mapped?.headers });
  res.end(JSON.stringify(code ? { error: label, code } : { error: label }));
}

/** Logs an error that reached a handler: a meshless refusal is operational, anything else a bug. */
export function logHandlerError(logger: Logger, service: string | undefined, error: unknown): void {
  if (meshlessErrorResponse(error)) logger.warn('request failed', { service, error });
  else logger.error('request handler threw', { service, error });
}
