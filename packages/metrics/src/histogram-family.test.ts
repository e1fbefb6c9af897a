import { ConfigError } from '@meshless/core';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SECONDS_BUCKETS, HistogramFamily } from './histogram-family.ts';
import { parsePromText, sampleValue, select } from './testing/prom-text.ts';

describe('HistogramFamily', () => {
  it('counts each observation in the first bucket whose bound is >= the value, cumulatively, with +Inf, sum and count', async () => {
    const registry = new Registry();
    const family = new HistogramFamily({
      name: 'd_seconds',
      help: 'h',
      labelNames: ['a'],
      buckets: [0.1, 0.5, 1],
    }).registerIn(registry);
    const cell = family.cell(['x']);
    for (const v of [0.05, 0.1, 0.2, 0.5, 0.7, 3]) cell.observe(v);
    const exp = parsePromText(await registry.metrics());
    expect(exp.types.get('d_seconds')).toBe('histogram');
    const buckets = select(exp, 'd_seconds_bucket', { a: 'x' }).map((s) => [s.labels.le, s.value]);
    expect(buckets).toEqual([
      ['0.1', 2],
      ['0.5', 4],
      ['1', 5],
      ['+Inf', 6],
    ]);
    expect(sampleValue(exp, 'd_seconds_sum', { a: 'x' })).toBeCloseTo(4.55, 12);
    expect(sampleValue(exp, 'd_seconds_count', { a: 'x' })).toBe(6);
  });

  it('prints the same exposition as a prom-client Histogram fed the same values', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const family = new HistogramFamily({ name: 'd_seconds', help: 'h', labelNames: ['a'] }).registerIn(ours);
    const reference = new Histogram({
      name: 'd_seconds',
      help: 'h',
      labelNames: ['a'],
      buckets: [...DEFAULT_SECONDS_BUCKETS],
      registers: [theirs],
    });
    const values = [0.0004, 0.001, 0.003, 0.02, 0.02, 0.3, 0.9, 7, 12];
    for (const v of values) {
      family.cell(['x']).observe(v);
      reference.observe({ a: 'x' }, v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('ignores NaN and zeroes in place on reset', async () => {
    const registry = new Registry();
    const family = new HistogramFamily({
      name: 'd_seconds',
      help: 'h',
      labelNames: ['a'],
      buckets: [1],
    }).registerIn(registry);
    const cell = family.cell(['x']);
    cell.observe(Number.NaN);
    cell.observe(2);
    registry.resetMetrics();
    cell.observe(0.5);
    const exp = parsePromText(await registry.metrics());
    expect(sampleValue(exp, 'd_seconds_bucket', { le: '1' })).toBe(1);
    expect(sampleValue(exp, 'd_seconds_sum')).toBe(0.5);
    expect(sampleValue(exp, 'd_seconds_count')).toBe(1);
  });

  it('rejects empty, unordered or non-finite buckets and an `le` label, naming the field', () => {
    const make = (buckets: number[], labelNames = ['a']) =>
      new HistogramFamily({ name: 'd_seconds', help: 'h', labelNames, buckets });
    expect(() => make([])).toThrow(ConfigError);
    expect(() => make([0.1, 0.1])).toThrow('buckets must increase: buckets[1] is 0.1 after 0.1');
    expect(() => make([0.1, Number.POSITIVE_INFINITY])).toThrow(/buckets\[1\] must be a finite number/);
    expect(() => make([1], ['le'])).toThrow(/le is reserved/);
    const error = (() => {
      try {
        make([2, 1]);
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error?.path).toBe('buckets[1]');
  });
});
