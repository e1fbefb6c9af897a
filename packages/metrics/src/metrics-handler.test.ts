import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshMetrics } from './mesh-metrics.ts';
import { createMetricsHandler } from './metrics-handler.ts';
import { parsePromText, sampleValue } from './testing/prom-text.ts';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

describe('metricsHandler', () => {
  it('serves the registry text with the Prometheus content type over node:http', async () => {
    const metrics = new MeshMetrics();
    metrics.clientCall('catalog', 'GET', 'stable').record('success', 0.02);
    const url = await serve(metrics.metricsHandler());
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const exp = parsePromText(await res.text());
    expect(sampleValue(exp, 'meshless_client_requests_total', { subset: 'stable' })).toBe(1);
  });

  it('answers HEAD without a body and other methods with 405', async () => {
    const url = await serve(new MeshMetrics().metricsHandler());
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(url, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 500 when collection fails, without throwing into the server', async () => {
    const url = await serve(
      createMetricsHandler({
        contentType: 'text/plain',
        metrics: () => {
          throw new Error('collector broke');
        },
      }),
    );
    const res = await fetch(url);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('collector broke');
  });
});
