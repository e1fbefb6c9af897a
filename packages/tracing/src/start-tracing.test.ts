import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '@meshless/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMeshTracer } from './mesh-tracer.ts';
import { startTracing } from './start-tracing.ts';

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

let collector: Server | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await new Promise<void>((resolve) => (collector ? collector.close(() => resolve()) : resolve()));
  collector = undefined;
});

/** A stand-in OTLP/HTTP collector on loopback that answers every POST with an empty success. */
async function startCollector(): Promise<{ base: string; received: Received[] }> {
  const received: Received[] = [];
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => collector!.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`, received };
}

interface OtlpJson {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { scope: { name: string }; spans: { name: string; traceId: string; kind: number }[] }[];
  }[];
}

describe('startTracing with the OTLP/HTTP exporter', () => {
  it('exports spans as OTLP JSON to POST /v1/traces on shutdown', async () => {
    const { base, received } = await startCollector();
    const tracing = await startTracing({
      serviceName: 'gateway',
      serviceVersion: '1.2.3',
      otlp: { url: `${base}/v1/traces` },
      detectResources: false,
    });
    const tracer = createMeshTracer();
    const call = tracer.startClientCall('GET', 'catalog', '/items/1')!;
    call.end(200);
    await tracing.shutdown();

    expect(received).toHaveLength(1);
    const [req] = received;
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/v1/traces');
    expect(req!.headers['content-type']).toBe('application/json');
    const body = JSON.parse(req!.body) as OtlpJson;
    const rs = body.resourceSpans[0]!;
    const attr = (k: string) => rs.resource.attributes.find((a) => a.key === k)?.value.stringValue;
    expect(attr('service.name')).toBe('gateway');
    expect(attr('service.version')).toBe('1.2.3');
    const scope = rs.scopeSpans[0]!;
    expect(scope.scope.name).toBe('@meshless/tracing');
    expect(scope.spans.map((s) => s.name)).toEqual(['GET']);
    expect(scope.spans[0]!.traceId).toBe(call.span.spanContext().traceId);
    expect(tracer.enabled).toBe(false);
  });

  it('takes endpoint and headers from the standard OTEL_* environment', async () => {
    const { base, received } = await startCollector();
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', base);
    vi.stubEnv('OTEL_EXPORTER_OTLP_HEADERS', 'x-api-key=secret');
    const tracing = await startTracing({ serviceName: 'gateway', detectResources: false });
    createMeshTracer().startGoverned('catalog.getItem')?.end();
    await tracing.shutdown();
    expect(received).toHaveLength(1);
    expect(received[0]!.url).toBe('/v1/traces');
    expect(received[0]!.headers['x-api-key']).toBe('secret');
    expect(received[0]!.body).toContain('catalog.getItem');
  });
});

describe('startTracing options', () => {
  it('batches into a SpanExporter of your own, delivered on forceFlush', async () => {
    const exported: ReadableSpan[] = [];
    const exporter: SpanExporter = {
      export(spans, done) {
        exported.push(...spans);
        done({ code: 0 });
      },
      shutdown: async () => {},
    };
    const tracing = await startTracing({
      serviceName: 'gateway',
      exporter,
      batch: { scheduledDelayMillis: 60_000 },
      detectResources: false,
    });
    try {
      createMeshTracer().startGoverned('a')?.end();
      expect(exported).toHaveLength(0); // batched, not yet sent
      await tracing.forceFlush();
      expect(exported.map((s) => s.name)).toEqual(['a']);
      expect(tracing.exporter).toBe(exporter);
    } finally {
      await tracing.shutdown();
    }
  });

  it('refuses a second start while one is running, a missing service name and an unknown exporter', async () => {
    const tracing = await startTracing({ serviceName: 'a', exporter: 'memory', detectResources: false });
    try {
      await expect(startTracing({ serviceName: 'b', exporter: 'memory' })).rejects.toThrow(
        /already registered/,
      );
    } finally {
      await tracing.shutdown();
      await tracing.shutdown(); // idempotent
    }
    await expect(startTracing({ serviceName: '' })).rejects.toBeInstanceOf(ConfigError);
    await expect(
      startTracing({ serviceName: 'a', exporter: 'zipkin' as unknown as 'otlp', detectResources: false }),
    ).rejects.toThrow(/unknown exporter zipkin/);
    expect(createMeshTracer().enabled).toBe(false);
  });
});
