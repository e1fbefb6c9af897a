import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import { createMesh, type Mesh, startInMemoryTracing, startTracing } from 'meshless';
import { describe, expect, it } from 'vitest';
import { decorate } from '../bench/lib/decorate.ts';
import { parsePromText, sampleValue } from '../packages/metrics/src/testing/prom-text.ts';
import { startBackend } from './helpers/backends.ts';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

/** A backend whose server runs behind mesh.serve() (so it has SERVER spans and inbound metrics). */
async function servedBackend(prefix: string, service: string, name: string, failFirst: number) {
  let seen = 0;
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const mesh = await createMesh({
    consul: { address: consulAddress() },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: { name: service, id: `${service}-${name}`, port, address: '127.0.0.1', drainMs: 0 },
  });
  server.on(
    'request',
    mesh.serve((_req, res) => {
      seen++;
      res.writeHead(seen <= failFirst ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(name);
    }),
  );
  cleanup(async () => {
    await mesh.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return mesh;
}

async function gateway(prefix: string): Promise<Mesh> {
  const mesh = await createMesh({
    consul: { address: consulAddress() },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: { name: 'gateway', port: 1, register: false },
  });
  cleanup(() => mesh.close());
  return mesh;
}

describe('tracing across two services', () => {
  it('records one trace: call span, an attempt span per try (with a retry event), server spans as children', async () => {
    const tracing = await startInMemoryTracing({ serviceName: 'meshless-test' });
    cleanup(() => tracing.shutdown());
    const prefix = uniquePrefix('trace');
    const service = `inventory-${prefix.slice(-8)}`;
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    await kv.put(`${prefix}/services/${service}/policies`, {
      retry: { attempts: 2, backoff: { baseMs: 0, maxMs: 0 }, on: ['503'] },
    });
    await servedBackend(prefix, service, 'only', 1);
    const gw = await gateway(prefix);
    const client = gw.client(service);
    await eventually(() => gw.rules.status().keys.length === 1);

    const res = await client.fetch('/stock/7');
    expect(res.status).toBe(200);
    await res.text();
    await tracing.forceFlush();
    const spans = tracing.exporter.getFinishedSpans();
    // Attempt spans carry their kind (first, retry, hedge); the call span sums up the call.
    const call = spans.find((s) => s.kind === 2 && s.attributes['meshless.attempt.kind'] === undefined)!;
    const attempts = spans
      .filter((s) => s.attributes['meshless.attempt.kind'] !== undefined)
      .sort((a, b) => Number(a.attributes['meshless.attempt']) - Number(b.attributes['meshless.attempt']));
    const servers = spans.filter((s) => s.kind === 1);
    expect(call).toBeDefined();
    expect(call.attributes['http.request.method']).toBe('GET');
    expect(call.attributes['meshless.service']).toBe(service);
    expect(call.attributes['http.response.status_code']).toBe(200);
    const retry = call.events.find((e) => e.name === 'meshless.retry');
    expect(retry?.attributes).toMatchObject({ 'meshless.attempt': 2, 'meshless.reason': '503' });
    await expect(gw.metrics()).resolves.toMatch(
      new RegExp(`meshless_client_retries_total\\{service="${service}",reason="503"\\} 1`),
    );
    expect(attempts).toHaveLength(2);
    expect(attempts.map((a) => a.attributes['http.response.status_code'])).toEqual([503, 200]);
    expect(attempts[1]!.attributes['url.full']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/stock\/7$/);
    expect(attempts[0]!.attributes['server.port']).toBeTypeOf('number');
    expect(servers).toHaveLength(2);
    const traceId = call.spanContext().traceId;
    for (const s of [...attempts, ...servers]) expect(s.spanContext().traceId).toBe(traceId);
    for (const a of attempts) expect(a.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
    // Each server span is the child of the attempt that reached it.
    expect(servers.map((s) => s.parentSpanContext?.spanId).sort()).toEqual(
      attempts.map((a) => a.spanContext().spanId).sort(),
    );
  });

  it('exports over OTLP/HTTP to a receiver', async () => {
    const bodies: Buffer[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/v1/traces') bodies.push(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    cleanup(() => new Promise((r) => receiver.close(() => r())));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;
    const tracing = await startTracing({
      serviceName: 'meshless-otlp-test',
      exporter: 'otlp',
      otlp: { url },
      detectResources: false,
    });
    const prefix = uniquePrefix('otlp');
    const service = `ledger-${prefix.slice(-8)}`;
    await servedBackend(prefix, service, 'only', 0);
    const gw = await gateway(prefix);
    expect((await gw.client(service).fetch('/balance')).status).toBe(200);
    await tracing.shutdown();
    expect(bodies.length).toBeGreaterThan(0);
    const text = Buffer.concat(bodies).toString('utf8');
    expect(text).toContain('meshless-otlp-test');
    expect(text).toContain(service);
  });
});

describe('metrics', () => {
  it('counts a known sequence of calls, scraped from /metrics and parsed', async () => {
    const prefix = uniquePrefix('metrics');
    const service = `billing-${prefix.slice(-8)}`;
    const ok = await startBackend(service, 'v1', 'ok', { prefix });
    const broken = await startBackend(`${service}-broken`, 'v1', 'broken', { prefix });
    cleanup(async () => {
      await ok.stop();
      await broken.stop();
    });
    broken.behave = (_req, res) => {
      res.writeHead(503);
      res.end();
      return true;
    };
    const gw = await gateway(prefix);
    for (let i = 0; i < 5; i++) await (await gw.client(service).fetch('/a')).arrayBuffer();
    for (let i = 0; i < 3; i++) await (await gw.client(`${service}-broken`).fetch('/b')).arrayBuffer();
    await expect(gw.client(`${service}-nobody`).fetch('/c')).rejects.toMatchObject({
      code: 'MESHLESS_NO_HEALTHY_ENDPOINT',
    });

    const server = createServer(gw.metricsHandler());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup(() => new Promise((r) => server.close(() => r())));
    const scrape = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    expect(scrape.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const exp = parsePromText(await scrape.text());
    const total = (svc: string, outcome: string) =>
      sampleValue(exp, 'meshless_client_requests_total', { service: svc, outcome });
    expect(total(service, 'success')).toBe(5);
    expect(total(`${service}-broken`, 'error')).toBe(3);
    expect(total(`${service}-nobody`, 'no_healthy_endpoint')).toBe(1);
    expect(
      sampleValue(exp, 'meshless_client_request_duration_seconds_count', {
        service,
        method: 'GET',
        subset: 'all',
      }),
    ).toBe(5);
    expect(sampleValue(exp, 'meshless_client_request_duration_seconds_bucket', { service, le: '+Inf' })).toBe(
      5,
    );
  });
});

describe('decorated methods on a mesh', () => {
  it('trace each call as an INTERNAL span named after the resource and count it by outcome', async () => {
    const tracing = await startInMemoryTracing({ serviceName: 'meshless-test' });
    cleanup(() => tracing.shutdown());
    const gw = await gateway(uniquePrefix('decorated'));
    class Catalog {
      async getItem(id: number): Promise<number> {
        if (id < 0) throw new RangeError('no such item');
        return id;
      }
    }
    decorate(Catalog.prototype, 'getItem', gw.governed('catalog.getItem'));
    const catalog = new Catalog();
    await expect(catalog.getItem(7)).resolves.toBe(7);
    await expect(catalog.getItem(-1)).rejects.toThrow(RangeError);

    await tracing.forceFlush();
    const spans = tracing.exporter.getFinishedSpans().filter((s) => s.name === 'catalog.getItem');
    expect(spans.map((s) => [s.kind, s.attributes['meshless.resource'], s.attributes['error.type']])).toEqual(
      [
        [SpanKind.INTERNAL, 'catalog.getItem', undefined],
        [SpanKind.INTERNAL, 'catalog.getItem', 'RangeError'],
      ],
    );
    const exp = parsePromText(await gw.metrics());
    const calls = (outcome: string) =>
      sampleValue(exp, 'meshless_resource_calls_total', { resource: 'catalog.getItem', outcome });
    expect(calls('success')).toBe(1);
    expect(calls('error')).toBe(1);
  });
});
