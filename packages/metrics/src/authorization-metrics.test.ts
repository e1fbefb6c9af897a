import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AuthorizationMetrics, MAX_CALLER_SERIES } from './authorization-metrics.ts';
import { CounterFamily } from './counter-family.ts';
import { parsePromText, sampleValue, select } from './testing/prom-text.ts';

function setup() {
  const registry = new Registry();
  const decisions = new CounterFamily({
    name: 'authz_total',
    help: 'h',
    labelNames: ['service', 'source', 'decision'],
  }).registerIn(registry);
  const plain = new CounterFamily({
    name: 'plain_total',
    help: 'h',
    labelNames: ['service', 'caller'],
  }).registerIn(registry);
  return { registry, metrics: new AuthorizationMetrics(decisions, plain) };
}

describe('AuthorizationMetrics', () => {
  it('counts decisions by service, source and allow|deny, and plain requests by claimed caller', async () => {
    const { registry, metrics } = setup();
    metrics.decided('api', 'web', true);
    metrics.decided('api', 'web', true);
    metrics.decided('api', 'web', false);
    metrics.decided('api', 'batch', false);
    metrics.plaintext('api', 'legacy');
    metrics.plaintext('api', 'legacy');
    metrics.plaintext('api', '');
    const exp = parsePromText(await registry.metrics());
    expect(sampleValue(exp, 'authz_total', { service: 'api', source: 'web', decision: 'allow' })).toBe(2);
    expect(sampleValue(exp, 'authz_total', { service: 'api', source: 'web', decision: 'deny' })).toBe(1);
    expect(sampleValue(exp, 'authz_total', { service: 'api', source: 'batch', decision: 'deny' })).toBe(1);
    expect(sampleValue(exp, 'plain_total', { service: 'api', caller: 'legacy' })).toBe(2);
    // No caller header: 'unknown', not an empty label value.
    expect(sampleValue(exp, 'plain_total', { service: 'api', caller: 'unknown' })).toBe(1);
  });

  it('cuts a long claimed caller to 128 characters', async () => {
    const { registry, metrics } = setup();
    metrics.plaintext('api', 'x'.repeat(10_000));
    // Names that differ only past the cut are one series, counted together.
    metrics.plaintext('api', `${'x'.repeat(200)}y`);
    const exp = parsePromText(await registry.metrics());
    expect(select(exp, 'plain_total').map((s) => s.labels.caller)).toEqual(['x'.repeat(128)]);
    expect(sampleValue(exp, 'plain_total', { service: 'api', caller: 'x'.repeat(128) })).toBe(2);
  });

  it("bounds the series: callers past the limit share 'other', and every request is still counted", async () => {
    const { registry, metrics } = setup();
    const callers = MAX_CALLER_SERIES * 4;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < callers; i++) metrics.plaintext('api', `caller-${i}`);
    }
    for (let i = 0; i < callers; i++) metrics.decided('api', `svc-${i}`, i % 2 === 0);
    const exp = parsePromText(await registry.metrics());
    const plain = select(exp, 'plain_total');
    const authz = select(exp, 'authz_total');
    // Each family bounded on its own: at most MAX_CALLER_SERIES named series (+ 'other') each.
    expect(plain.filter((s) => s.labels.caller !== 'other').length).toBe(MAX_CALLER_SERIES);
    expect(authz.filter((s) => s.labels.source !== 'other').length).toBe(MAX_CALLER_SERIES);
    // The first callers keep their own series (both rounds counted), the rest are in 'other'.
    expect(sampleValue(exp, 'plain_total', { service: 'api', caller: 'caller-0' })).toBe(2);
    expect(plain.reduce((sum, s) => sum + s.value, 0)).toBe(callers * 2);
    expect(sampleValue(exp, 'plain_total', { service: 'api', caller: 'other' })).toBeGreaterThan(0);
    expect(authz.reduce((sum, s) => sum + s.value, 0)).toBe(callers);
    // The first MAX_CALLER_SERIES sources (half allowed, half denied) have their own series.
    expect(sampleValue(exp, 'authz_total', { service: 'api', source: 'other', decision: 'allow' })).toBe(
      (callers - MAX_CALLER_SERIES) / 2,
    );
    expect(sampleValue(exp, 'authz_total', { service: 'api', source: 'other', decision: 'deny' })).toBe(
      (callers - MAX_CALLER_SERIES) / 2,
    );
  });

  it('a flood of claimed plain callers does not push verified sources into other', async () => {
    const { registry, metrics } = setup();
    for (let i = 0; i < MAX_CALLER_SERIES * 3; i++) metrics.plaintext('api', `flood-${i}`);
    metrics.decided('api', 'web', true);
    const exp = parsePromText(await registry.metrics());
    expect(sampleValue(exp, 'authz_total', { service: 'api', source: 'web', decision: 'allow' })).toBe(1);
  });

  it('a caller counted before the limit keeps its series after the limit is reached', async () => {
    const { registry, metrics } = setup();
    metrics.plaintext('api', 'early');
    for (let i = 0; i < MAX_CALLER_SERIES * 3; i++) metrics.plaintext('api', `flood-${i}`);
    metrics.plaintext('api', 'early');
    const exp = parsePromText(await registry.metrics());
    expect(sampleValue(exp, 'plain_total', { service: 'api', caller: 'early' })).toBe(2);
  });
});
