import {
  BulkheadFullError,
  CircuitOpenError,
  ConfigError,
  DeadlineExceededError,
  NoHealthyEndpointError,
  RateLimitedError,
  RetryBudgetExhaustedError,
  TimeoutError,
} from '@meshless/core';
import { ConcurrencyLimitError } from '@meshless/limiter';
import { describe, expect, it } from 'vitest';
import { meshlessErrorResponse } from './error-response.ts';

describe('meshlessErrorResponse', () => {
  it('maps running out of time to 504, refusals in front of a dependency to 503', () => {
    expect(meshlessErrorResponse(new DeadlineExceededError('catalog'))?.status).toBe(504);
    expect(meshlessErrorResponse(new TimeoutError('catalog', 200))?.status).toBe(504);
    for (const error of [
      new CircuitOpenError('catalog'),
      new BulkheadFullError('catalog'),
      new ConcurrencyLimitError('catalog', 4),
      new NoHealthyEndpointError('catalog'),
      new RetryBudgetExhaustedError('catalog'),
    ]) {
      expect(meshlessErrorResponse(error), error.code).toEqual({ status: 503, headers: {} });
    }
  });

  it('answers a rate limit 429 with Retry-After in whole seconds, as the inbound guard does', () => {
    expect(meshlessErrorResponse(new RateLimitedError('catalog', 1500))).toEqual({
      status: 429,
      headers: { 'retry-after': '2' },
    });
    expect(meshlessErrorResponse(new RateLimitedError('catalog', 0))).toEqual({ status: 429, headers: {} });
  });

  it('answers other meshless errors 500 and leaves foreign errors to the framework', () => {
    expect(meshlessErrorResponse(new ConfigError('bad option'))?.status).toBe(500);
    expect(meshlessErrorResponse(new Error('boom'))).toBeUndefined();
    // Only the brand counts: a look-alike with a code is not a meshless error.
    expect(meshlessErrorResponse({ code: 'MESHLESS_DEADLINE_EXCEEDED' })).toBeUndefined();
  });
});
