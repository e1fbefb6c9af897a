import { CircuitOpenError, type ClientCallInfo, TimeoutError } from '@meshless/core';
import { endpoint } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { MeshMetrics } from './mesh-metrics.ts';
import { MetricsObserver } from './metrics-observer.ts';
import { parsePromText, sampleValue } from './testing/prom-text.ts';

const scrape = async (m: MeshMetrics) => parsePromText(await m.text());
const info = (over: Partial<ClientCallInfo> = {}): ClientCallInfo => ({
  service: 'catalog',
  method: 'GET',
  operation: undefined,
  path: '/items/1',
  route: 'default',
  subset: undefined,
  ...over,
});

describe('MetricsObserver', () => {
  it('records client calls by service, method (or operation), subset and outcome, with retries and hedges', async () => {
    const m = new MeshMetrics();
    const o = new MetricsObserver(m);
    const all = o.client(info());
    all.attempt(1, endpoint('catalog-1'), 'first').end(503, undefined);
    all.retry(2, '503');
    all.hedge(3, 'delay');
    all.end(200, undefined, 0.02);
    o.client(info()).end(undefined, new TimeoutError('catalog', 100), 0.1);
    o.client(info({ subset: 'canary', operation: 'getItem' })).end(503, undefined, 0.01);

    const exp = await scrape(m);
    const total = (labels: Record<string, string>) =>
      sampleValue(exp, 'meshless_client_requests_total', labels);
    expect(total({ service: 'catalog', method: 'GET', subset: 'all', outcome: 'success' })).toBe(1);
    expect(total({ service: 'catalog', method: 'GET', subset: 'all', outcome: 'timeout' })).toBe(1);
    expect(total({ service: 'catalog', method: '_OTHER', subset: 'canary', outcome: 'error' })).toBe(1);
    expect(sampleValue(exp, 'meshless_client_retries_total', { service: 'catalog', reason: '503' })).toBe(1);
    expect(sampleValue(exp, 'meshless_client_hedges_total', { service: 'catalog', reason: 'delay' })).toBe(1);
  });

  it('hands out one prepared scope per label set, so a call allocates nothing', () => {
    const o = new MetricsObserver(new MeshMetrics());
    const a = o.client(info());
    // Another call object with the same labels (another path and route) gets the same scope.
    expect(o.client(info({ path: '/items/2', route: 'r1' }))).toBe(a);
    expect(o.client(info({ subset: 'canary' }))).not.toBe(a);
    expect(o.client(info({ operation: 'getItem' }))).not.toBe(a);
    expect(o.server('shop', 'GET', '/a', {})).toBe(o.server('shop', 'GET', '/b', {}));
    expect(o.governed('catalog.getItem')).toBe(o.governed('catalog.getItem'));
  });

  it('records inbound requests by status class and shed requests by reason; unknown methods share _OTHER', async () => {
    const m = new MeshMetrics();
    const o = new MetricsObserver(m);
    o.server('shop', 'GET', '/a', {}).end(200, undefined, 0.01);
    const shed = o.server('shop', 'POST', '/a', {});
    shed.rejected('rate_limited', 'shed');
    shed.end(429, undefined, 0.001);
    expect(o.server('shop', 'BREW', '/', {})).toBe(o.server('shop', 'PURR', '/', {}));
    o.server('shop', 'BREW', '/', {}).end(501, undefined, 0.001);

    const exp = await scrape(m);
    const total = (labels: Record<string, string>) =>
      sampleValue(exp, 'meshless_server_requests_total', labels);
    expect(total({ service: 'shop', method: 'GET', status_class: '2xx' })).toBe(1);
    expect(total({ service: 'shop', method: 'POST', status_class: '4xx' })).toBe(1);
    expect(total({ service: 'shop', method: '_OTHER', status_class: '5xx' })).toBe(1);
    expect(
      sampleValue(exp, 'meshless_server_rejected_total', { service: 'shop', reason: 'rate_limited' }),
    ).toBe(1);
  });

  it('records decorated calls by resource and outcome', async () => {
    const m = new MeshMetrics();
    const o = new MetricsObserver(m);
    o.governed('catalog.getItem').end(undefined, undefined, 0.001);
    o.governed('catalog.getItem').end(undefined, new CircuitOpenError('catalog.getItem'), 0.001);
    const exp = await scrape(m);
    const total = (outcome: string) =>
      sampleValue(exp, 'meshless_resource_calls_total', { resource: 'catalog.getItem', outcome });
    expect(total('success')).toBe(1);
    expect(total('circuit_open')).toBe(1);
  });
});
