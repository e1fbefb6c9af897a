import { type MeshlessErrorOptions, ResourceError } from '@meshless/core';

/**
 * The adaptive concurrency limit is reached: the service sheds this call. Defined here because
 * core has no such error; it is a `ResourceError` (hence a `MeshlessError`) with a stable code.
 */
export class ConcurrencyLimitError extends ResourceError {
  override readonly code = 'MESHLESS_CONCURRENCY_LIMITED';
  /** The limit at the time of the rejection. */
  readonly limit: number;

  constructor(resource: string, limit: number, options: MeshlessErrorOptions = {}) {
    super(`concurrency limit ${limit} reached for ${resource}`, resource, options);
    this.limit = limit;
  }
}
