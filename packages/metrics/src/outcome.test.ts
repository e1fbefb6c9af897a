import {
  BulkheadFullError,
  CircuitOpenError,
  DeadlineExceededError,
  MeshlessError,
  NoHealthyEndpointError,
  RateLimitedError,
  RetryBudgetExhaustedError,
  TimeoutError,
} from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { methodLabel, OUTCOMES, outcomeOf, statusClass } from './outcome.ts';

describe('outcomeOf', () => {
  it('maps each meshless refusal to its own outcome by error code', () => {
    expect(outcomeOf(new TimeoutError('r', 10))).toBe('timeout');
    expect(outcomeOf(new DeadlineExceededError('r'))).toBe('deadline_exceeded');
    expect(outcomeOf(new CircuitOpenError('r'))).toBe('circuit_open');
    expect(outcomeOf(new RateLimitedError('r', 5))).toBe('rate_limited');
    expect(outcomeOf(new BulkheadFullError('r'))).toBe('bulkhead_full');
    expect(outcomeOf(new RetryBudgetExhaustedError('r'))).toBe('retry_budget_exhausted');
    expect(outcomeOf(new NoHealthyEndpointError('svc'))).toBe('no_healthy_endpoint');
    const concurrency = Object.assign(new Error('x'), {
      [Symbol.for('meshless.error')]: true,
      code: 'MESHLESS_CONCURRENCY_LIMITED',
    });
    expect(outcomeOf(concurrency)).toBe('concurrency_limited');
  });

  it('calls an abort `cancelled` and any other throw `error`', () => {
    expect(outcomeOf(new DOMException('stop', 'AbortError'))).toBe('cancelled');
    expect(outcomeOf(new TypeError('fetch failed'))).toBe('error');
    expect(outcomeOf('a string')).toBe('error');
  });

  it('classifies responses by status: <400 success, 4xx client_error, 5xx error', () => {
    expect(outcomeOf(undefined)).toBe('success');
    expect(outcomeOf(undefined, 204)).toBe('success');
    expect(outcomeOf(undefined, 302)).toBe('success');
    expect(outcomeOf(undefined, 404)).toBe('client_error');
    expect(outcomeOf(undefined, 503)).toBe('error');
  });

  it('only ever returns a value of the closed label set', () => {
    const seen = [new Error('x'), new TimeoutError('r', 1), undefined].map((e) => outcomeOf(e, 500));
    for (const o of seen) expect(OUTCOMES).toContain(o);
  });
});

describe('statusClass and methodLabel', () => {
  it('groups statuses into classes', () => {
    expect([101, 200, 299, 301, 404, 599, 600, 0].map(statusClass)).toEqual([
      '1xx',
      '2xx',
      '2xx',
      '3xx',
      '4xx',
      '5xx',
      'other',
      'other',
    ]);
  });

  it('keeps known methods (upper-cased) and folds the rest into _OTHER', () => {
    expect(methodLabel('GET')).toBe('GET');
    expect(methodLabel('patch')).toBe('PATCH');
    expect(methodLabel('BREW')).toBe('_OTHER');
  });
});

describe('outcomeOf: codes are looked up as own keys', () => {
  it('maps an unknown code named like an Object.prototype member to `error`', () => {
    class OddError extends MeshlessError {
      override readonly code = 'toString';
    }
    expect(outcomeOf(new OddError('odd'))).toBe('error');
  });
});
