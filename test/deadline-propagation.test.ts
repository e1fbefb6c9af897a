import { createServer } from 'node:http';
import { freePort } from '@meshless/consul/testing';
import { createMesh, runWithTimeout } from 'meshless';
import { describe, expect, it } from 'vitest';
import { startBackend, startGateway } from './helpers/backends.ts';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

describe('deadline propagation across services', () => {
  it("bounds a service's own calls by its caller's deadline, and cancels them when it passes", async () => {
    const prefix = uniquePrefix('deadline');
    const front = `orders-${prefix.slice(-8)}`;
    const back = `stock-${prefix.slice(-8)}`;
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    // Callers of `front` give each attempt 200 ms; `back` has no rule at all.
    await kv.put(`${prefix}/services/${front}/policies`, { timeoutMs: 200 });

    // back: answers after 3 s, and tells us when a request is given up.
    const stock = await startBackend(back, 'v1', 'a', { prefix });
    cleanup(() => stock.stop());
    let cancelled = 0;
    stock.behave = (req, res) => {
      const timer = setTimeout(() => res.end('{"late":true}'), 3000);
      req.socket.once('close', () => {
        clearTimeout(timer);
        cancelled++;
      });
      return true;
    };

    // front: a served mesh whose handler calls back.
    const port = await freePort();
    const orders = await createMesh({
      consul: { address: consulAddress() },
      prefix,
      cacheDir: false,
      logger: 'silent',
      service: { name: front, port, address: '127.0.0.1', drainMs: 0 },
    });
    cleanup(() => orders.close());
    const seen: { deadlineHeader?: string; error?: string; ms?: number } = {};
    const server = createServer(
      orders.serve(async (req, res) => {
        seen.deadlineHeader = req.headers['x-meshless-deadline'] as string;
        const started = performance.now();
        try {
          const answer = await orders.client(back).fetch('/stock/1');
          res.end(await answer.text());
        } catch (error) {
          seen.error = (error as { code?: string }).code;
          seen.ms = performance.now() - started;
          res.writeHead(504).end();
        }
      }),
    );
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    cleanup(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    await eventually(() => orders.client(back).status().endpoints === 1, 5000, 'back discovered');

    const gateway = await startGateway(prefix);
    cleanup(() => gateway.close());
    const client = gateway.client(front);
    await eventually(() => client.status().endpoints === 1 && gateway.status().rules.keys.length === 1);
    const started = performance.now();
    const error = await client.fetch('/orders/1').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MESHLESS_TIMEOUT' });
    expect(performance.now() - started).toBeLessThan(1000);

    // front got the caller's 200 ms and its own call to back ended with it, not after back's 3 s.
    await eventually(() => seen.error !== undefined, 3000, "front's call to back ended");
    expect(Number(seen.deadlineHeader)).toBeGreaterThan(150);
    expect(Number(seen.deadlineHeader)).toBeLessThanOrEqual(200);
    expect(seen.error).toBe('MESHLESS_DEADLINE_EXCEEDED');
    expect(seen.ms).toBeLessThan(1000);
    // back's request was given up at once, not left running.
    await eventually(() => cancelled === 1, 2000, "back's request cancelled");
  });

  it('takes a deadline set in code with runWithTimeout, and cancels the call when it passes', async () => {
    const prefix = uniquePrefix('deadline-code');
    const service = `report-${prefix.slice(-8)}`;
    const slow = await startBackend(service, 'v1', 'a', { prefix });
    cleanup(() => slow.stop());
    let cancelled = 0;
    slow.behave = (req, res) => {
      const timer = setTimeout(() => res.end('{}'), 3000);
      req.socket.once('close', () => {
        clearTimeout(timer);
        cancelled++;
      });
      return true;
    };
    const gateway = await startGateway(prefix);
    cleanup(() => gateway.close());
    const client = gateway.client(service);
    await eventually(() => client.status().endpoints === 1);
    const started = performance.now();
    const error = await runWithTimeout(150, () => client.fetch('/report')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MESHLESS_DEADLINE_EXCEEDED' });
    expect(performance.now() - started).toBeLessThan(1000);
    await eventually(() => cancelled === 1, 2000, 'request cancelled');
  });
});
