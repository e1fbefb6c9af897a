import { BulkheadFullError, CircuitOpenError, RateLimitedError, TimeoutError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { localClassifier, SwitchableClassifier } from './local-classifier.ts';

const clock = new ManualClock();

describe('localClassifier', () => {
  it('without `on`, retries thrown errors and timeouts, not aborts, open circuits or limits', () => {
    const classify = localClassifier(undefined, clock);
    const abort = new DOMException('stop', 'AbortError');
    expect(classify(new Error('db down'), true).retry).toBe(true);
    expect(classify(new TimeoutError('r', 10), true).retry).toBe(true);
    expect(classify(abort, true).retry).toBe(false);
    expect(classify(new CircuitOpenError('r'), true).retry).toBe(false);
    expect(classify(new BulkheadFullError('r'), true).retry).toBe(false);
    expect(classify(new RateLimitedError('r', 100), true).retry).toBe(false);
    // A returned value is never retried.
    expect(classify({ status: 503 }, false).retry).toBe(false);
  });

  it('with `on`, retries exactly what it names', () => {
    const classify = localClassifier(['timeout', '503'], clock);
    expect(classify(new TimeoutError('r', 10), true).retry).toBe(true);
    expect(classify({ status: 503 }, false).retry).toBe(true);
    expect(classify(new Error('db down'), true).retry).toBe(false);
  });

  it('switches rule under a classifier that policies hold for life', () => {
    const switchable = new SwitchableClassifier(undefined, clock);
    const held = switchable.classify;
    expect(held(new Error('x'), true).retry).toBe(true);
    switchable.update(['503']);
    expect(held(new Error('x'), true).retry).toBe(false);
    switchable.update(undefined);
    expect(held(new Error('x'), true).retry).toBe(true);
  });
});
