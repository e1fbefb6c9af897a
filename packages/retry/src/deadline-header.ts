import { type Clock, DEADLINE_HEADER, systemClock } from '@meshless/core';
import { currentDeadline } from './deadline.ts';
import { InvalidDeadlineHeaderError } from './errors.ts';

/**
 * Carries the caller's remaining time in whole milliseconds. Relative, not a timestamp, so
 * clock skew between hosts does not matter (gRPC's grpc-timeout does the same); the time
 * the request spends on the wire is the receiver's loss, which errs on the safe side.
 * Named in core's wire-headers.ts with the other meshless headers; re-exported here.
 */
export { DEADLINE_HEADER };

/** Longest deadline accepted from the wire (~11.5 days): nine digits. */
const PATTERN = /^\d{1,9}$/;

/** The header value for `remainingMs` (rounded down, never negative). */
export function formatDeadlineHeader(remainingMs: number): string {
  return String(Math.max(0, Math.floor(Math.min(remainingMs, 999_999_999))));
}

/** The header value for the current call's deadline, or undefined outside any deadline. */
export function deadlineHeaderValue(clock: Clock = systemClock): string | undefined {
  const deadlineAt = currentDeadline();
  return deadlineAt === undefined ? undefined : formatDeadlineHeader(deadlineAt - clock.now());
}

export interface ParsedDeadlineHeader {
  /** Remaining ms sent by the caller; undefined when the header is absent or invalid. */
  readonly remainingMs: number | undefined;
  /** Why the header was ignored; undefined when it was absent or valid. */
  readonly error: InvalidDeadlineHeaderError | undefined;
}

const ABSENT: ParsedDeadlineHeader = Object.freeze({ remainingMs: undefined, error: undefined });

/**
 * Reads the header as node:http gives it (string, string[] or undefined) or as
 * `Headers.get()` does (string or null). Repeated or comma-joined values must all be valid;
 * the smallest wins. A bad value never throws: it is ignored and the error returned.
 */
export function parseDeadlineHeader(
  value: string | readonly string[] | null | undefined,
): ParsedDeadlineHeader {
  if (value === undefined || value === null) return ABSENT;
  const parts = typeof value === 'string' ? value.split(',') : value.flatMap((v) => v.split(','));
  if (parts.length === 0) return ABSENT;
  let min = Number.POSITIVE_INFINITY;
  for (const part of parts) {
    const text = part.trim();
    if (!PATTERN.test(text)) {
      const raw = typeof value === 'string' ? value : value.join(', ');
      const reason = text === '' ? 'empty value' : 'expected whole milliseconds (0 to 999999999)';
      return { remainingMs: undefined, error: new InvalidDeadlineHeaderError(raw, reason) };
    }
    min = Math.min(min, Number(text));
  }
  return { remainingMs: min, error: undefined };
}
