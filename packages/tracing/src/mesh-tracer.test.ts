import { CircuitOpenError, TimeoutError } from '@meshless/core';
import { endpoint } from '@meshless/core/testing';
import { propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMeshTracer, type MeshTracer } from './mesh-tracer.ts';
import type { InMemorySpanExporter, ReadableSpan } from './sdk-types.ts';
import { startInMemoryTracing, type TracingHandle } from './start-tracing.ts';

let tracing: TracingHandle<InMemorySpanExporter>;
let tracer: MeshTracer;

beforeAll(async () => {
  tracing = await startInMemoryTracing({ serviceName: 'gateway' });
  tracer = createMeshTracer({ serviceName: 'gateway' });
});
afterAll(() => tracing.shutdown());
beforeEach(() => tracing.exporter.reset());

const spans = () => tracing.exporter.getFinishedSpans();
const byName = (name: string) => spans().filter((s) => s.name === name);
const one = (predicate: (s: ReadableSpan) => boolean) => {
  const found = spans().filter(predicate);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const isChildOf = (child: ReadableSpan, parent: ReadableSpan) =>
  child.parentSpanContext?.spanId === parent.spanContext().spanId &&
  child.spanContext().traceId === parent.spanContext().traceId;

const e1 = endpoint('catalog-1', { service: 'catalog', address: '10.0.0.1', port: 8080 });
const e2 = endpoint('catalog-2', { service: 'catalog', address: '10.0.0.2', port: 8080 });

describe('MeshTracer client calls', () => {
  it('records a CLIENT span per call with a child per attempt, the events of the retry, and the attributes of the winning attempt', () => {
    const call = tracer.startClientCall('GET', 'catalog', '/items/42')!;
    expect(call).toBeDefined();
    call.setRoute('default', 'stable');
    const first = call.startAttempt(1, e1, 'first', 'closed');
    first.end(503);
    call.retry(2, 25, '503');
    call.breakerTransition('closed', 'open', e1.id);
    call.rejected('circuit_open', 'rerouted', e1.id);
    const second = call.startAttempt(2, e2, 'retry', 'closed');
    second.end(200);
    call.end(200);

    const callSpan = one((s) => s.name === 'GET' && s.attributes['meshless.attempt.kind'] === undefined);
    expect(callSpan.kind).toBe(SpanKind.CLIENT);
    expect(callSpan.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '10.0.0.2',
      'server.port': 8080,
      'url.full': 'http://10.0.0.2:8080/items/42',
      'http.response.status_code': 200,
      'meshless.service': 'catalog',
      'meshless.route': 'default',
      'meshless.subset': 'stable',
      'meshless.endpoint.id': 'catalog-2',
      'meshless.attempt': 2,
      'meshless.breaker.state': 'closed',
    });
    expect(callSpan.attributes['error.type']).toBeUndefined();
    expect(callSpan.status.code).toBe(SpanStatusCode.UNSET);
    expect(callSpan.events.map((e) => [e.name, e.attributes])).toEqual([
      ['meshless.retry', { 'meshless.attempt': 2, 'meshless.delay_ms': 25, 'meshless.reason': '503' }],
      [
        'meshless.breaker.transition',
        {
          'meshless.breaker.from': 'closed',
          'meshless.breaker.to': 'open',
          'meshless.endpoint.id': 'catalog-1',
        },
      ],
      [
        'meshless.rejected',
        {
          'meshless.reason': 'circuit_open',
          'meshless.action': 'rerouted',
          'meshless.endpoint.id': 'catalog-1',
        },
      ],
    ]);

    const a1 = one((s) => s.attributes['meshless.attempt'] === 1);
    const a2 = one((s) => s.attributes['meshless.attempt'] === 2 && s !== callSpan);
    expect(isChildOf(a1, callSpan)).toBe(true);
    expect(isChildOf(a2, callSpan)).toBe(true);
    expect(a1.kind).toBe(SpanKind.CLIENT);
    expect(a1.attributes).toMatchObject({
      'server.address': '10.0.0.1',
      'url.full': 'http://10.0.0.1:8080/items/42',
      'http.response.status_code': 503,
      'error.type': '503',
      'meshless.attempt.kind': 'first',
      'meshless.route': 'default',
      'meshless.subset': 'stable',
    });
    expect(a1.status.code).toBe(SpanStatusCode.ERROR);
    expect(a2.attributes).toMatchObject({ 'http.request.resend_count': 1, 'meshless.attempt.kind': 'retry' });
    expect(a2.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('takes the hedge that won, not the loser that was aborted later', () => {
    const call = tracer.startClientCall('GET', 'catalog', '/x')!;
    const slow = call.startAttempt(1, e1);
    call.hedge(2, 'delay');
    const fast = call.startAttempt(2, e2, 'hedge');
    fast.end(200);
    slow.end(undefined, new DOMException('hedge lost', 'AbortError'));
    call.end(200);
    const callSpan = one((s) => s.attributes['meshless.attempt.kind'] === undefined);
    expect(callSpan.attributes['meshless.endpoint.id']).toBe('catalog-2');
    expect(callSpan.events.map((e) => e.name)).toEqual(['meshless.hedge']);
    expect(one((s) => s.attributes['meshless.attempt.kind'] === 'hedge').status.code).toBe(
      SpanStatusCode.UNSET,
    );
    const loser = one((s) => s.attributes['meshless.attempt'] === 1 && s !== callSpan);
    expect(loser.attributes['error.type']).toBe('AbortError');
  });

  it('marks a failed call with error.type and ERROR status, and records a rejection without any attempt', () => {
    const call = tracer.startClientCall('POST', 'catalog', '/orders')!;
    call.rejected('rate_limited');
    call.end(undefined, new TimeoutError('catalog', 300));
    const s = one(() => true);
    expect(s.name).toBe('POST');
    expect(s.attributes).toMatchObject({
      'error.type': 'MESHLESS_TIMEOUT',
      'server.address': 'catalog',
      'url.full': 'http://catalog/orders',
      'meshless.attempt': 0,
    });
    expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'catalog timed out after 300 ms' });
    expect(s.events).toHaveLength(1); // the rejection; meshless errors get no exception event
    expect(s.events[0]!.attributes).toEqual({
      'meshless.reason': 'rate_limited',
      'meshless.action': 'rejected',
    });
  });

  it('fails a client span on 4xx (semconv), and reports unknown methods as _OTHER', () => {
    const call = tracer.startClientCall('BREW', 'catalog', '/pot')!;
    call.end(418);
    const s = one(() => true);
    expect(s.name).toBe('_OTHER');
    expect(s.attributes).toMatchObject({
      'http.request.method': '_OTHER',
      'http.request.method_original': 'BREW',
      'error.type': '418',
    });
    expect(s.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("injects the attempt's trace context into the request headers", () => {
    const call = tracer.startClientCall('GET', 'catalog', '/x')!;
    const attempt = call.startAttempt(1, e1);
    const headers: Record<string, string> = { accept: '*/*' };
    attempt.inject(headers);
    attempt.end(200);
    call.end(200);
    const a = one((s) => s.attributes['meshless.attempt.kind'] === 'first');
    const { traceId, spanId } = a.spanContext();
    expect(headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);
  });

  it('ignores events and ends after the end', () => {
    const call = tracer.startClientCall('GET', 'catalog', '/x')!;
    call.end(200);
    call.retry(2, 10);
    call.end(500);
    const s = one(() => true);
    expect(s.events).toHaveLength(0);
    expect(s.attributes['http.response.status_code']).toBe(200);
  });
});

describe('MeshTracer server spans', () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const parentId = 'b7ad6b7169203331';

  it("continues the caller's traceparent and tracestate from node:http headers, and ends with the status", () => {
    const server = tracer.startServer(
      {
        method: 'GET',
        url: '/items/42?full=1',
        headers: { traceparent: `00-${traceId}-${parentId}-01`, tracestate: 'vendor=abc' },
      },
      '/items/:id',
    )!;
    server.end(200);
    const s = one(() => true);
    expect(s.name).toBe('GET /items/:id');
    expect(s.kind).toBe(SpanKind.SERVER);
    expect(s.spanContext().traceId).toBe(traceId);
    expect(s.parentSpanContext?.spanId).toBe(parentId);
    expect(s.parentSpanContext?.isRemote).toBe(true);
    expect(s.spanContext().traceState?.get('vendor')).toBe('abc');
    expect(s.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/items/42',
      'url.query': 'full=1',
      'http.route': '/items/:id',
      'http.response.status_code': 200,
      'meshless.service': 'gateway',
    });
    expect(s.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('makes calls from the handler children of the server span and forwards baggage downstream', async () => {
    const server = tracer.startServer({
      method: 'POST',
      headers: { traceparent: `00-${traceId}-${parentId}-01`, baggage: 'tenant=acme' },
    })!;
    const headers: Record<string, string> = {};
    await server.run(async () => {
      await Promise.resolve();
      const call = tracer.startClientCall('GET', 'catalog', '/x')!;
      const attempt = call.startAttempt(1, e1);
      attempt.inject(headers);
      attempt.end(200);
      call.end(200);
    });
    server.end(201);
    const s = one((x) => x.kind === SpanKind.SERVER);
    const c = one((x) => x.kind === SpanKind.CLIENT && x.attributes['meshless.attempt.kind'] === undefined);
    expect(isChildOf(c, s)).toBe(true);
    expect(headers.traceparent?.split('-')[1]).toBe(traceId);
    expect(headers.baggage).toBe('tenant=acme');
    expect(propagation.getBaggage(server.context)?.getEntry('tenant')?.value).toBe('acme');
  });

  it('starts a new trace without a traceparent, and fails only on 5xx', () => {
    tracer.startServer({ method: 'GET', headers: {} })!.end(404);
    tracer.startServer({ method: 'GET', headers: {} })!.end(503);
    tracer.startServer({ method: 'GET', headers: {} })!.end(500, new TypeError('handler bug'));
    const [notFound, unavailable, threw] = spans();
    expect(notFound!.parentSpanContext).toBeUndefined();
    expect(notFound!.status.code).toBe(SpanStatusCode.UNSET);
    expect(unavailable!.status.code).toBe(SpanStatusCode.ERROR);
    expect(unavailable!.attributes['error.type']).toBe('503');
    expect(threw!.attributes['error.type']).toBe('TypeError');
    expect(threw!.events.map((e) => e.name)).toEqual(['exception']);
  });
});

describe('MeshTracer governed methods', () => {
  class Catalog {
    prefix = 'item-';
    async getItem(id: string): Promise<string> {
      await Promise.resolve();
      const call = tracer.startClientCall('GET', 'inventory', `/stock/${id}`)!;
      call.end(200);
      return this.prefix + id;
    }
  }

  it('wraps a method call in an INTERNAL span with meshless.resource, parent of the calls it makes', async () => {
    const catalog = new Catalog();
    const result = await tracer.governed('catalog.getItem', catalog.getItem, catalog, ['42']);
    expect(result).toBe('item-42');
    const g = one((s) => s.name === 'catalog.getItem');
    expect(g.kind).toBe(SpanKind.INTERNAL);
    expect(g.attributes['meshless.resource']).toBe('catalog.getItem');
    expect(g.status.code).toBe(SpanStatusCode.UNSET);
    const c = one((s) => s.kind === SpanKind.CLIENT);
    expect(isChildOf(c, g)).toBe(true);
  });

  it('passes errors through untouched, sync and async, and records them on the span with fallbacks', async () => {
    const error = new CircuitOpenError('catalog.getItem');
    await expect(
      tracer.governed(
        'r.async',
        async () => {
          throw error;
        },
        undefined,
        [],
      ),
    ).rejects.toBe(error);
    expect(() =>
      tracer.governed(
        'r.sync',
        () => {
          throw new RangeError('sync');
        },
        undefined,
        [],
      ),
    ).toThrow(RangeError);
    const span = tracer.startGoverned('r.fallback')!;
    span.fallback(error);
    span.end();
    await new Promise((r) => setImmediate(r));
    expect(byName('r.async')[0]!.attributes['error.type']).toBe('MESHLESS_CIRCUIT_OPEN');
    expect(byName('r.async')[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(byName('r.sync')[0]!.attributes['error.type']).toBe('RangeError');
    expect(byName('r.fallback')[0]!.events.map((e) => [e.name, e.attributes])).toEqual([
      ['meshless.fallback', { 'error.type': 'MESHLESS_CIRCUIT_OPEN' }],
    ]);
  });

  it('adds the active context to outgoing headers', () => {
    const span = tracer.startGoverned('r.inject')!;
    const headers: [string, string][] = [];
    span.run(() => tracer.inject(headers));
    span.end();
    expect(headers).toHaveLength(1);
    expect(headers[0]![0]).toBe('traceparent');
    expect(headers[0]![1]).toContain(span.span.spanContext().spanId);
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
