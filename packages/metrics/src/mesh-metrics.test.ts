import { defineSection, RuleStore, TimeoutError } from '@meshless/core';
import { FakeRuleSource } from '@meshless/core/testing';
import { Gauge, type OpenMetricsContentType, Registry, register } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { METRIC_NAMES, MeshMetrics } from './mesh-metrics.ts';
import { outcomeOf } from './outcome.ts';
import { parsePromText, sampleValue, select } from './testing/prom-text.ts';

const scrape = async (m: MeshMetrics) => parsePromText(await m.text());
const buckets = [0.01, 0.1, 1];

describe('MeshMetrics: client calls', () => {
  it('records a known sequence: exact counts by outcome and exact bucket counts', async () => {
    const m = new MeshMetrics({ buckets });
    const stable = m.clientCall('catalog', 'GET', 'stable');
    const canary = m.clientCall('catalog', 'GET', 'canary');
    expect(m.clientCall('catalog', 'GET', 'stable')).toBe(stable); // prepared once
    stable.record('success', 0.005);
    stable.record('success', 0.05);
    stable.record('success', 0.5);
    stable.record(outcomeOf(new TimeoutError('catalog', 1000)), 1.0);
    stable.record(outcomeOf(undefined, 503), 2);
    canary.record('success', 0.01);

    const exp = await scrape(m);
    const base = { service: 'catalog', method: 'GET', subset: 'stable' };
    expect(exp.types.get('meshless_client_requests_total')).toBe('counter');
    expect(exp.types.get('meshless_client_request_duration_seconds')).toBe('histogram');
    expect(sampleValue(exp, 'meshless_client_requests_total', { ...base, outcome: 'success' })).toBe(3);
    expect(sampleValue(exp, 'meshless_client_requests_total', { ...base, outcome: 'timeout' })).toBe(1);
    expect(sampleValue(exp, 'meshless_client_requests_total', { ...base, outcome: 'error' })).toBe(1);
    expect(
      sampleValue(exp, 'meshless_client_requests_total', {
        service: 'catalog',
        subset: 'canary',
        outcome: 'success',
      }),
    ).toBe(1);
    const bucketsOf = (labels: Record<string, string>) =>
      select(exp, 'meshless_client_request_duration_seconds_bucket', labels).map((s) => [
        s.labels.le,
        s.value,
      ]);
    expect(bucketsOf({ ...base, outcome: 'success' })).toEqual([
      ['0.01', 1],
      ['0.1', 2],
      ['1', 3],
      ['+Inf', 3],
    ]);
    expect(bucketsOf({ ...base, outcome: 'timeout' })).toEqual([
      ['0.01', 0],
      ['0.1', 0],
      ['1', 1], // le is inclusive: exactly 1 s lands in the 1 s bucket
      ['+Inf', 1],
    ]);
    expect(bucketsOf({ subset: 'canary', outcome: 'success' })).toEqual([
      ['0.01', 1],
      ['0.1', 1],
      ['1', 1],
      ['+Inf', 1],
    ]);
    expect(
      sampleValue(exp, 'meshless_client_request_duration_seconds_sum', { ...base, outcome: 'success' }),
    ).toBeCloseTo(0.555, 12);
    expect(
      sampleValue(exp, 'meshless_client_request_duration_seconds_count', { ...base, outcome: 'error' }),
    ).toBe(1);
  });

  it('shows the success series at 0 as soon as a recorder exists', async () => {
    const m = new MeshMetrics();
    m.clientCall('catalog', 'POST', undefined);
    const exp = await scrape(m);
    expect(
      sampleValue(exp, 'meshless_client_requests_total', { service: 'catalog', method: 'POST', subset: '' }),
    ).toBe(0);
  });

  it('never labels by endpoint unless asked', async () => {
    const off = new MeshMetrics();
    off.clientCall('catalog', 'GET', 'stable', '10.0.0.1:80').record('success', 0.1);
    off.clientCall('catalog', 'GET', 'stable', '10.0.0.2:80').record('success', 0.1);
    const a = await scrape(off);
    const series = select(a, 'meshless_client_requests_total');
    expect(series).toHaveLength(1);
    expect(series[0]!.labels).toEqual({
      service: 'catalog',
      method: 'GET',
      subset: 'stable',
      outcome: 'success',
    });
    expect(series[0]!.value).toBe(2);

    const on = new MeshMetrics({ endpointLabels: true });
    on.clientCall('catalog', 'GET', 'stable', '10.0.0.1:80').record('success', 0.1);
    on.clientCall('catalog', 'GET', 'stable', '10.0.0.2:80').record('error', 0.1);
    const b = await scrape(on);
    expect(
      sampleValue(b, 'meshless_client_requests_total', { endpoint: '10.0.0.1:80', outcome: 'success' }),
    ).toBe(1);
    expect(
      sampleValue(b, 'meshless_client_requests_total', { endpoint: '10.0.0.2:80', outcome: 'error' }),
    ).toBe(1);
  });

  it('counts retries and hedges by reason, budget denials, client rejections, ejections and endpoint gauges', async () => {
    const m = new MeshMetrics();
    const s = m.service('catalog');
    s.retry('503');
    s.retry('503');
    s.retry('timeout');
    s.hedge('delay');
    s.budgetExhausted('retry');
    s.rejected('rate_limited');
    s.rejected('circuit_open');
    s.rejected('circuit_open');
    s.ejection();
    s.endpoints(4, 1);
    s.endpoints(3, 2);
    const exp = await scrape(m);
    expect(sampleValue(exp, 'meshless_client_retries_total', { service: 'catalog', reason: '503' })).toBe(2);
    expect(sampleValue(exp, 'meshless_client_retries_total', { reason: 'timeout' })).toBe(1);
    expect(sampleValue(exp, 'meshless_client_hedges_total', { reason: 'delay' })).toBe(1);
    expect(sampleValue(exp, 'meshless_client_retry_budget_exhausted_total', { kind: 'retry' })).toBe(1);
    expect(sampleValue(exp, 'meshless_client_rejected_total', { reason: 'circuit_open' })).toBe(2);
    expect(sampleValue(exp, 'meshless_client_rejected_total', { reason: 'rate_limited' })).toBe(1);
    expect(sampleValue(exp, 'meshless_outlier_ejections_total', { service: 'catalog' })).toBe(1);
    expect(sampleValue(exp, 'meshless_endpoints_healthy', { service: 'catalog' })).toBe(3);
    expect(sampleValue(exp, 'meshless_endpoints_ejected', { service: 'catalog' })).toBe(2);
    expect(exp.types.get('meshless_endpoints_healthy')).toBe('gauge');
  });
});

describe('MeshMetrics: server, resources, breakers, rules', () => {
  it('records inbound requests by method and status class, and shed requests by reason', async () => {
    const m = new MeshMetrics({ buckets });
    const get = m.serverCall('catalog', 'GET');
    get.record(200, 0.002);
    get.record(204, 0.2);
    get.record(503, 0.05);
    m.serverCall('catalog', 'BREW').record(404, 0.001);
    m.serverCall('catalog', 'get').record(200, 0.001);
    m.serverService('catalog').rejected('rate_limited');
    const exp = await scrape(m);
    const base = { service: 'catalog', method: 'GET' };
    expect(sampleValue(exp, 'meshless_server_requests_total', { ...base, status_class: '2xx' })).toBe(3);
    expect(sampleValue(exp, 'meshless_server_requests_total', { ...base, status_class: '5xx' })).toBe(1);
    expect(
      sampleValue(exp, 'meshless_server_requests_total', { method: '_OTHER', status_class: '4xx' }),
    ).toBe(1);
    expect(
      sampleValue(exp, 'meshless_server_request_duration_seconds_bucket', {
        ...base,
        status_class: '2xx',
        le: '0.01',
      }),
    ).toBe(2);
    expect(
      sampleValue(exp, 'meshless_server_rejected_total', { service: 'catalog', reason: 'rate_limited' }),
    ).toBe(1);
  });

  it('records governed methods by outcome, and fallbacks', async () => {
    const m = new MeshMetrics();
    const r = m.resourceCall('catalog.getItem');
    expect(m.resourceCall('catalog.getItem')).toBe(r);
    r.record('success', 0.01);
    r.record('circuit_open', 0);
    r.fallback();
    const exp = await scrape(m);
    expect(
      sampleValue(exp, 'meshless_resource_calls_total', { resource: 'catalog.getItem', outcome: 'success' }),
    ).toBe(1);
    expect(sampleValue(exp, 'meshless_resource_calls_total', { outcome: 'circuit_open' })).toBe(1);
    expect(sampleValue(exp, 'meshless_resource_fallbacks_total', { resource: 'catalog.getItem' })).toBe(1);
  });

  it('shows the worst breaker state per resource, a count per state, transitions, and drops removed breakers', async () => {
    const m = new MeshMetrics();
    m.breakerState('catalog', 'closed', 'e1');
    m.breakerState('catalog', 'open', 'e2');
    m.breakerState('catalog', 'half-open', 'e3');
    let exp = await scrape(m);
    expect(sampleValue(exp, 'meshless_breaker_state', { resource: 'catalog' })).toBe(2);
    expect(sampleValue(exp, 'meshless_breakers', { resource: 'catalog', state: 'open' })).toBe(1);
    expect(sampleValue(exp, 'meshless_breakers', { resource: 'catalog', state: 'closed' })).toBe(1);
    expect(sampleValue(exp, 'meshless_breaker_transitions_total', { resource: 'catalog', to: 'open' })).toBe(
      1,
    );
    expect(select(exp, 'meshless_breaker_transitions_total', { to: 'closed' })).toHaveLength(0);

    m.breakerRemoved('catalog', 'e2');
    m.breakerState('catalog', 'closed', 'e3');
    exp = await scrape(m);
    expect(sampleValue(exp, 'meshless_breaker_state', { resource: 'catalog' })).toBe(0);
    expect(sampleValue(exp, 'meshless_breakers', { resource: 'catalog', state: 'closed' })).toBe(2);
    expect(sampleValue(exp, 'meshless_breaker_transitions_total', { to: 'closed' })).toBe(1);

    m.breakerRemoved('catalog', 'e1');
    m.breakerRemoved('catalog', 'e3');
    exp = await scrape(m);
    expect(select(exp, 'meshless_breaker_state')).toHaveLength(0);
    expect(select(exp, 'meshless_breakers')).toHaveLength(0);
  });

  it('labels breakers by endpoint when endpointLabels is on', async () => {
    const m = new MeshMetrics({ endpointLabels: true });
    m.breakerState('catalog', 'open', '10.0.0.1:80');
    m.breakerState('catalog.getItem', 'half-open');
    const exp = await scrape(m);
    expect(sampleValue(exp, 'meshless_breaker_state', { resource: 'catalog', endpoint: '10.0.0.1:80' })).toBe(
      2,
    );
    expect(sampleValue(exp, 'meshless_breaker_state', { resource: 'catalog.getItem', endpoint: '' })).toBe(1);
  });

  it('follows a RuleStore: applied ModifyIndex per key, rejections per key, deleted keys disappear', async () => {
    const section = defineSection({
      kind: 'limits',
      pattern: 'services/*/limits',
      schema: z.strictObject({ max: z.number().optional() }),
      description: 'test',
    });
    const source = new FakeRuleSource('meshless');
    const store = new RuleStore({ prefix: 'meshless', sections: [section] });
    source.subscribe((snapshot) => store.applySnapshot(snapshot));
    const m = new MeshMetrics();
    const sub = m.observeRuleStore(store);
    const a = source.put('services/a/limits', { max: 1 });
    source.put('services/b/limits', { max: 2 });
    source.put('services/a/limits', { nope: true }); // rejected: a keeps index `a`
    let exp = await scrape(m);
    expect(sampleValue(exp, 'meshless_rule_applied_index', { key: 'meshless/services/a/limits' })).toBe(a);
    expect(sampleValue(exp, 'meshless_rule_applied_index', { key: 'meshless/services/b/limits' })).toBe(2);
    expect(sampleValue(exp, 'meshless_rule_rejected_total', { key: 'meshless/services/a/limits' })).toBe(1);

    source.delete('services/b/limits');
    exp = await scrape(m);
    expect(select(exp, 'meshless_rule_applied_index', { key: 'meshless/services/b/limits' })).toHaveLength(0);

    sub.dispose();
    source.put('services/a/limits', 'not json {');
    exp = await scrape(m);
    expect(sampleValue(exp, 'meshless_rule_rejected_total', { key: 'meshless/services/a/limits' })).toBe(1);
  });
});

describe('MeshMetrics: registry and options', () => {
  it("uses the user's registry and prefix, next to the user's own metrics", async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ instance: 'i1' });
    const m = new MeshMetrics({ registry, prefix: 'app_mesh_' });
    m.clientCall('catalog', 'GET', undefined).record('success', 0.1);
    const exp = parsePromText(await registry.metrics());
    expect(sampleValue(exp, 'app_mesh_client_requests_total', { instance: 'i1', outcome: 'success' })).toBe(
      1,
    );
    expect(m.registry).toBe(registry);
    expect(m.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('can share prom-client global register, and refuses a second MeshMetrics with the same names there', () => {
    const m = new MeshMetrics({ registry: register, prefix: 'globaltest_' });
    expect(register.getSingleMetric('globaltest_client_requests_total')).toBeDefined();
    expect(() => new MeshMetrics({ registry: register, prefix: 'globaltest_' })).toThrow(
      /already registered/,
    );
    register.clear();
    expect(m.prefix).toBe('globaltest_');
  });

  it('registers all its metrics or none, and METRIC_NAMES lists exactly what it registers', () => {
    const registry = new Registry();
    const m = new MeshMetrics({ registry, prefix: 'a_' });
    expect(
      registry
        .getMetricsAsArray()
        .map((x) => x.name)
        .sort(),
    ).toEqual(METRIC_NAMES.map((n) => `a_${n}`).sort());
    const clash = new Registry();
    new Gauge({ name: 'b_breakers', help: 'mine', registers: [clash] });
    expect(() => new MeshMetrics({ registry: clash, prefix: 'b_' })).toThrow(
      'metrics already registered: b_breakers',
    );
    expect(clash.getMetricsAsArray()).toHaveLength(1);
    expect(m.prefix).toBe('a_');
  });

  it('rejects a prefix that cannot start a metric name', () => {
    expect(() => new MeshMetrics({ prefix: '1x' })).toThrow(/prefix "1x"/);
  });

  it('writes OpenMetrics when the registry asks for it', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const m = new MeshMetrics({ registry });
    m.clientCall('catalog', 'GET', 's').record('success', 0.1);
    const text = await m.text();
    expect(text).toContain('# TYPE meshless_client_requests counter');
    expect(text).toContain(
      'meshless_client_requests_total{service="catalog",method="GET",subset="s",outcome="success"} 1',
    );
    expect(text.endsWith('# EOF\n')).toBe(true);
  });
});
