import { ConfigError } from '@meshless/core';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterFamily } from './counter-family.ts';
import { parsePromText, sampleValue } from './testing/prom-text.ts';

describe('CounterFamily', () => {
  it('hands out one cell per label set, and the registry scrapes its value', async () => {
    const registry = new Registry();
    const family = new CounterFamily({ name: 'x_total', help: 'h', labelNames: ['a', 'b'] }).registerIn(
      registry,
    );
    const cell = family.cell(['1', '2']);
    expect(family.cell(['1', '2'])).toBe(cell);
    cell.inc();
    cell.value += 2;
    family.cell(['1', '3']).inc(5);
    const exp = parsePromText(await registry.metrics());
    expect(exp.types.get('x_total')).toBe('counter');
    expect(sampleValue(exp, 'x_total', { a: '1', b: '2' })).toBe(3);
    expect(sampleValue(exp, 'x_total', { a: '1', b: '3' })).toBe(5);
  });

  it('escapes label values in the exposition', async () => {
    const registry = new Registry();
    const family = new CounterFamily({ name: 'x_total', help: 'h', labelNames: ['key'] }).registerIn(
      registry,
    );
    family.cell(['a"b\\c']).inc();
    const exp = parsePromText(await registry.metrics());
    expect(sampleValue(exp, 'x_total', { key: 'a"b\\c' })).toBe(1);
  });

  it('resets to zero in place, so prepared cells keep counting after registry.resetMetrics()', async () => {
    const registry = new Registry();
    const family = new CounterFamily({ name: 'x_total', help: 'h', labelNames: ['a'] }).registerIn(registry);
    const cell = family.cell(['1']);
    cell.inc(4);
    registry.resetMetrics();
    cell.inc();
    expect(sampleValue(parsePromText(await registry.metrics()), 'x_total', { a: '1' })).toBe(1);
  });

  it('removes a series from the output', async () => {
    const registry = new Registry();
    const family = new CounterFamily({ name: 'x_total', help: 'h', labelNames: ['a'] }).registerIn(registry);
    family.cell(['1']).inc();
    family.cell(['2']).inc();
    family.remove(['1']);
    const exp = parsePromText(await registry.metrics());
    expect(exp.samples.map((s) => s.labels.a)).toEqual(['2']);
  });

  it('rejects bad names, wrong label counts and a second registration of the same name', () => {
    expect(() => new CounterFamily({ name: 'bad-name', help: 'h', labelNames: [] })).toThrow(ConfigError);
    expect(() => new CounterFamily({ name: 'ok_total', help: 'h', labelNames: ['__x'] })).toThrow(
      /invalid label/,
    );
    const family = new CounterFamily({ name: 'x_total', help: 'h', labelNames: ['a'] });
    expect(() => family.cell(['1', '2'])).toThrow(/takes 1 label values/);
    const registry = new Registry();
    family.registerIn(registry);
    expect(() =>
      new CounterFamily({ name: 'x_total', help: 'h', labelNames: ['a'] }).registerIn(registry),
    ).toThrow(/already registered/);
  });

  it('is summed by prom-client cluster aggregation (aggregator sum)', async () => {
    const family = new CounterFamily({ name: 'x_total', help: 'h', labelNames: ['a'] });
    family.cell(['1']).inc(2);
    const json = await family.get();
    expect(json).toEqual({
      name: 'x_total',
      help: 'h',
      type: 'counter',
      aggregator: 'sum',
      values: [{ value: 2, labels: { a: '1' } }],
    });
  });
});
