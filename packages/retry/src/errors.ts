import { MeshlessError, type MeshlessErrorOptions } from '@meshless/core';

/**
 * An incoming `x-meshless-deadline` header that is not a whole number of milliseconds.
 * Returned (never thrown) by `parseDeadlineHeader`; the request then runs without a deadline.
 * Local to this package: core has no error for a bad header.
 */
export class InvalidDeadlineHeaderError extends MeshlessError {
  override readonly code = 'MESHLESS_INVALID_DEADLINE_HEADER';
  /** The header value as received (truncated to 64 characters). */
  readonly value: string;
  constructor(value: string, reason: string, options: MeshlessErrorOptions = {}) {
    super(`invalid x-meshless-deadline header ${JSON.stringify(value.slice(0, 64))}: ${reason}`, options);
    this.value = value.slice(0, 64);
  }
}
