import { CircuitOpenError, TimeoutError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_ON,
  failureReason,
  httpClassifier,
  parseRetryAfter,
  retryAfterOf,
} from './classifier.ts';

const coded = (code: string) => Object.assign(new Error(code), { code });

describe('httpClassifier', () => {
  const classify = httpClassifier();

  it('retries connection failures by code, also inside a cause chain or an AggregateError', () => {
    for (const code of ['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'EAI_AGAIN']) {
      expect(classify(coded(code), true).retry).toBe(true);
    }
    for (const code of ['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'])
      expect(classify(coded(code), true).retry).toBe(true);
    expect(classify(new TypeError('fetch failed', { cause: coded('ECONNREFUSED') }), true).retry).toBe(true);
    const happyEyeballs = Object.assign(
      new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')]),
      {},
    );
    expect(classify(happyEyeballs, true).retry).toBe(true);
  });

  it('does not retry other errors, timeouts or open circuits unless asked', () => {
    expect(classify(new Error('boom'), true).retry).toBe(false);
    expect(classify(coded('EACCES'), true).retry).toBe(false);
    expect(classify(new TimeoutError('svc', 100), true).retry).toBe(false);
    expect(classify(new CircuitOpenError('svc'), true).retry).toBe(false);
    expect(classify('a string', true).retry).toBe(false);
    const asked = httpClassifier({ on: ['timeout', 'circuit-open'] });
    expect(asked(new TimeoutError('svc', 100), true).retry).toBe(true);
    expect(asked(new DOMException('signal timed out', 'TimeoutError'), true).retry).toBe(true);
    expect(asked(coded('UND_ERR_HEADERS_TIMEOUT'), true).retry).toBe(true);
    expect(asked(new CircuitOpenError('svc'), true).retry).toBe(true);
    expect(asked(coded('ECONNREFUSED'), true).retry).toBe(false);
  });

  it('retries 502, 503 and 504 results and errors by default, not 500 or 2xx', () => {
    expect(DEFAULT_RETRY_ON).toEqual(['connect-error', 'reset', '502', '503', '504']);
    for (const status of [502, 503, 504]) {
      expect(classify({ status }, false).retry).toBe(true);
      expect(classify(Object.assign(new Error('http'), { statusCode: status }), true).retry).toBe(true);
    }
    for (const status of [200, 404, 500, 501]) expect(classify({ status }, false).retry).toBe(false);
    expect(classify(42, false).retry).toBe(false);
    expect(classify(null, false).retry).toBe(false);
    const all5xx = httpClassifier({ on: ['5xx'] });
    expect(all5xx({ status: 500 }, false).retry).toBe(true);
    expect(all5xx({ status: 599 }, false).retry).toBe(true);
    expect(all5xx({ status: 499 }, false).retry).toBe(false);
  });

  it('retries 429 only when it carries Retry-After, and only when on lists it', () => {
    const with429 = httpClassifier({ on: ['429'] });
    expect(with429({ status: 429 }, false).retry).toBe(false);
    expect(with429({ status: 429, headers: new Headers({ 'retry-after': '1' }) }, false)).toEqual({
      retry: true,
      afterMs: 1000,
    });
    expect(classify({ status: 429, headers: { 'retry-after': '1' } }, false).retry).toBe(false);
  });

  it('reads Retry-After as seconds or as an HTTP date, from Headers or a plain object', () => {
    const clock = new ManualClock(0, Date.UTC(2026, 0, 1, 12, 0, 0));
    const c = httpClassifier({ clock });
    const date = new Date(Date.UTC(2026, 0, 1, 12, 0, 5)).toUTCString();
    expect(c({ status: 503, headers: { 'retry-after': date } }, false)).toEqual({
      retry: true,
      afterMs: 5000,
    });
    expect(c({ status: 503, headers: { 'retry-after': ['3', '9'] } }, false)).toEqual({
      retry: true,
      afterMs: 3000,
    });
    expect(c({ status: 503, headers: { 'retry-after': 'soon' } }, false)).toBe(c({ status: 503 }, false));
    expect(retryAfterOf({ headers: new Headers() }, clock)).toBeUndefined();
  });
});

describe('failureReason', () => {
  it('labels what failed with a low-cardinality reason', () => {
    const coded = (code: string) => Object.assign(new Error(code), { code });
    expect(failureReason({ status: 503 })).toBe('503');
    expect(failureReason({ statusCode: 429 })).toBe('429');
    expect(failureReason(coded('ECONNREFUSED'))).toBe('connect_error');
    expect(failureReason(new TypeError('fetch failed', { cause: coded('ECONNRESET') }))).toBe('reset');
    expect(failureReason(new TimeoutError('catalog', 100))).toBe('timeout');
    expect(failureReason(new CircuitOpenError('catalog'))).toBe('circuit_open');
    expect(failureReason(new Error('bug'))).toBe('error');
    expect(failureReason('thrown string')).toBe('error');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 0, 1);
  it('accepts delay-seconds and HTTP dates (past dates mean now)', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });
  it('rejects anything else', () => {
    for (const bad of ['-1', '1.5', '', 'tomorrow', '1e3', '99999999999']) {
      expect(parseRetryAfter(bad, now)).toBeUndefined();
    }
  });
});
