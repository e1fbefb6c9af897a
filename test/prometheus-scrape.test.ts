import { createServer } from 'node:http';
import { freePort } from '@meshless/consul/testing';
import { describe, expect, it } from 'vitest';
import { startBackend, startGateway } from './helpers/backends.ts';
import { eventually, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { type Prometheus, startPrometheus } from './helpers/prometheus.ts';

// A real Prometheus scrapes a mesh's /metrics and the values are read back through its HTTP API:
// the exposition format, the names and the labels are what Prometheus itself accepts and stores.

const cleanup = useCleanupsAndNoUnhandledRejections();

/** The single value of a query whose vector has at most one sample (undefined when empty). */
async function scalar(prom: Prometheus, promql: string): Promise<number | undefined> {
  const result = await prom.query(promql);
  if (result.length > 1) throw new Error(`${promql} returned ${result.length} samples`);
  return result[0] ? Number(result[0].value[1]) : undefined;
}

describe('a real Prometheus scraping a mesh', () => {
  it('stores the calls a gateway made: total, outcome split, duration histogram, and the target is up', async () => {
    const prefix = uniquePrefix('prom');
    const service = `orders-${prefix.slice(-8)}`;
    const backend = await startBackend(service, 'v1', 'a', { prefix });
    cleanup(() => backend.stop());
    backend.behave = (req, res) => {
      if (req.url !== '/fail') return false;
      res.writeHead(503);
      res.end();
      return true;
    };
    const gateway = await startGateway(prefix);
    cleanup(() => gateway.close());
    const client = gateway.client(service);
    await eventually(() => client.status().endpoints === 1, 5000, 'the backend in discovery');

    // Exactly 7 governed calls: 4 answered 200, 3 answered 503 (no retries by default).
    const paths = ['/ok', '/fail', '/ok', '/fail', '/ok', '/fail', '/ok'];
    const statuses: number[] = [];
    for (const path of paths) {
      const res = await client.fetch(path);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 503, 200, 503, 200, 503, 200]);

    const server = createServer(gateway.metricsHandler());
    const metricsPort = await freePort();
    await new Promise<void>((r) => server.listen(metricsPort, '127.0.0.1', r));
    cleanup(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    const prom = await startPrometheus(`127.0.0.1:${metricsPort}`, cleanup);
    const sel = `service="${service}"`;
    let total: number | undefined;
    await eventually(
      async () => {
        total = await scalar(prom, `sum(meshless_client_requests_total{${sel}})`);
        if (total === paths.length) return true;
        await new Promise((r) => setTimeout(r, 100)); // Prometheus scrapes once a second
        return false;
      },
      15_000,
      `prometheus to store ${paths.length} calls`,
    ).catch((e: Error) => {
      throw new Error(`${e.message} (last sum seen: ${total})`);
    });

    const byOutcome = Object.fromEntries(
      (await prom.query(`sum by (outcome) (meshless_client_requests_total{${sel}})`))
        .map((s) => [s.metric.outcome, Number(s.value[1])] as const)
        .filter(([, value]) => value > 0),
    );
    expect(byOutcome).toEqual({ success: 4, error: 3 });
    expect(await scalar(prom, `sum(meshless_client_request_duration_seconds_count{${sel}})`)).toBe(7);
    expect(await scalar(prom, `sum(meshless_client_request_duration_seconds_bucket{${sel},le="+Inf"})`)).toBe(
      7,
    );
    const up = await prom.query('up{job="meshless"}');
    expect(up).toHaveLength(1);
    expect(up[0]!.metric.instance).toBe(`127.0.0.1:${metricsPort}`);
    expect(up[0]!.value[1]).toBe('1');
  });
});
