import { type ClientCallInfo, noopCallScope, TimeoutError } from '@meshless/core';
import { endpoint } from '@meshless/core/testing';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMeshTracer } from './mesh-tracer.ts';
import type { InMemorySpanExporter, ReadableSpan } from './sdk-types.ts';
import { startInMemoryTracing, type TracingHandle } from './start-tracing.ts';
import { TracingObserver } from './tracing-observer.ts';

const e1 = endpoint('catalog-1', { service: 'catalog', address: '10.0.0.1', port: 8080 });
const e2 = endpoint('catalog-2', { service: 'catalog', address: '10.0.0.2', port: 8080 });
const call: ClientCallInfo = {
  service: 'catalog',
  method: 'GET',
  operation: undefined,
  path: '/items/42',
  route: 'default',
  subset: 'stable',
};
const traceId = '0af7651916cd43dd8448eb211c80319c';
const parentId = 'b7ad6b7169203331';

// First, before any SDK is registered in this process.
describe('TracingObserver with tracing off', () => {
  it('hands out noopCallScope for every kind of call', () => {
    const observer = new TracingObserver(createMeshTracer());
    expect(observer.client(call)).toBe(noopCallScope);
    expect(observer.server('catalog', 'GET', '/x', { traceparent: `00-${traceId}-${parentId}-01` })).toBe(
      noopCallScope,
    );
    expect(observer.governed('catalog.getItem')).toBe(noopCallScope);
  });
});

describe('TracingObserver with an SDK', () => {
  let tracing: TracingHandle<InMemorySpanExporter>;
  let observer: TracingObserver;
  beforeAll(async () => {
    tracing = await startInMemoryTracing({ serviceName: 'gateway' });
    observer = new TracingObserver(createMeshTracer({ serviceName: 'gateway' }));
  });
  afterAll(() => tracing.shutdown());
  beforeEach(() => tracing.exporter.reset());
  const spans = () => tracing.exporter.getFinishedSpans();
  const one = (predicate: (s: ReadableSpan) => boolean) => {
    const found = spans().filter(predicate);
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  it('makes a client scope a CLIENT span with its route, a child span per attempt, and the retry and hedge events', () => {
    const scope = observer.client(call);
    const first = scope.attempt(1, e1, 'first', 'closed');
    const headers: Record<string, string> = {};
    first.inject(headers);
    first.end(503, undefined);
    scope.retry(2, '503');
    const second = scope.attempt(2, e2, 'retry');
    scope.hedge(3, 'delay');
    second.end(200, undefined);
    scope.end(200, undefined, 0.01);

    const callSpan = one((s) => s.attributes['meshless.attempt.kind'] === undefined);
    expect(callSpan.kind).toBe(SpanKind.CLIENT);
    expect(callSpan.attributes).toMatchObject({
      'meshless.route': 'default',
      'meshless.subset': 'stable',
      'meshless.endpoint.id': 'catalog-2',
      'http.response.status_code': 200,
    });
    expect(callSpan.events.map((e) => [e.name, e.attributes])).toEqual([
      ['meshless.retry', { 'meshless.attempt': 2, 'meshless.delay_ms': 0, 'meshless.reason': '503' }],
      ['meshless.hedge', { 'meshless.attempt': 3, 'meshless.reason': 'delay' }],
    ]);
    const a1 = one((s) => s.attributes['meshless.attempt'] === 1);
    expect(a1.parentSpanContext?.spanId).toBe(callSpan.spanContext().spanId);
    expect(a1.attributes).toMatchObject({ 'meshless.breaker.state': 'closed', 'error.type': '503' });
    expect(headers.traceparent?.split('-')[2]).toBe(a1.spanContext().spanId);
  });

  it('makes a server scope a SERVER span continuing the caller, running the handler inside it, with a shed event', () => {
    const scope = observer.server('gateway', 'GET', '/items/42?full=1', {
      traceparent: `00-${traceId}-${parentId}-01`,
    });
    const active = scope.run(() => trace.getActiveSpan()?.spanContext().spanId);
    scope.rejected('rate_limited', 'shed');
    scope.end(429, undefined, 0.001);
    const s = one(() => true);
    expect(s.kind).toBe(SpanKind.SERVER);
    expect(active).toBe(s.spanContext().spanId);
    expect(s.spanContext().traceId).toBe(traceId);
    expect(s.attributes).toMatchObject({ 'url.path': '/items/42', 'http.response.status_code': 429 });
    expect(s.events.map((e) => [e.name, e.attributes])).toEqual([
      ['meshless.rejected', { 'meshless.reason': 'rate_limited', 'meshless.action': 'shed' }],
    ]);
  });

  it('makes a governed scope an INTERNAL span named after the resource, failed by the error', () => {
    const scope = observer.governed('catalog.getItem');
    scope.end(undefined, new TimeoutError('catalog.getItem', 300), 0.3);
    const s = one(() => true);
    expect(s.name).toBe('catalog.getItem');
    expect(s.kind).toBe(SpanKind.INTERNAL);
    expect(s.attributes['error.type']).toBe('MESHLESS_TIMEOUT');
    expect(s.status.code).toBe(SpanStatusCode.ERROR);
  });
});
