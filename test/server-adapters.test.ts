import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { CircuitOpenError, createMesh, DeadlineExceededError, type Mesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { startBackend, startServedMesh } from './helpers/backends.ts';
import { consulAddress, eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

function setup(label: string) {
  return startServedMesh('adapters', label, cleanup);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The same app three times: node:http with mesh.serve, Express with mesh.middleware, Fastify with the plugin. */
async function threeApps(
  mesh: Mesh,
  route: () => Promise<string>,
): Promise<{ node: string; express: string; fastify: string }> {
  const metrics = mesh.metricsHandler();
  const node = await listen(
    createServer(
      mesh.serve(async (req, res) => {
        if (req.url === '/metrics') return metrics(req, res);
        res.end(await route());
      }),
    ),
  );
  const app = express();
  app.use(mesh.middleware());
  app.get('/metrics', mesh.metricsHandler());
  app.get('/work', async (_req, res) => {
    res.send(await route());
  });
  app.use(mesh.errorHandler());
  const expressUrl = await listen(createServer(app));
  const fastify = Fastify();
  await fastify.register(mesh.fastifyPlugin);
  fastify.get('/metrics', mesh.metricsHandler());
  fastify.get('/work', () => route());
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  cleanup(() => fastify.close());
  return {
    node,
    express: expressUrl,
    fastify: `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`,
  };
}

// A request that got no answer must fail the test quickly, not hang it.
const get = (url: string, init: RequestInit = {}) =>
  fetch(url, { signal: AbortSignal.timeout(3000), ...init });

describe('framework adapters', () => {
  it('serves mesh.metricsHandler() in node:http, Express and Fastify', async () => {
    const { mesh } = await setup('metrics');
    const apps = await threeApps(mesh, async () => 'ok');
    for (const [framework, url] of Object.entries(apps)) {
      await (await get(`${url}/work`)).arrayBuffer();
      const res = await get(`${url}/metrics`);
      expect(res.status, framework).toBe(200);
      expect(res.headers.get('content-type'), framework).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await res.text(), framework).toContain('meshless_server_requests_total');
      const head = await get(`${url}/metrics`, { method: 'HEAD' });
      expect(head.status, framework).toBe(200);
      expect(await head.text(), framework).toBe('');
    }
  });

  it('exempts the metrics path from inbound rules, as the health path is', async () => {
    const { mesh, setInbound } = await setup('exempt');
    const apps = await threeApps(mesh, async () => 'ok');
    await setInbound({ rateLimit: { perSecond: 1, burst: 2 } });
    for (const [framework, url] of Object.entries(apps)) {
      const scrapes: number[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await get(`${url}/metrics`);
        scrapes.push(res.status);
        await res.arrayBuffer();
      }
      expect(
        scrapes.filter((s) => s !== 200),
        framework,
      ).toEqual([]);
      // The rest of the app is still limited.
      const work: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await get(`${url}/work`);
        work.push(res.status);
        await res.arrayBuffer();
      }
      expect(work, framework).toContain(429);
    }
  });

  it('answers the signals path itself in each framework: past the inbound rules, GET/HEAD only, not counted', async () => {
    const { mesh, service, setInbound } = await setup('signals');
    const apps = await threeApps(mesh, async () => 'ok');
    await setInbound({ fault: { abort: { percent: 100, status: 503 } } });
    for (const [framework, url] of Object.entries(apps)) {
      expect((await get(`${url}/work`)).status, framework).toBe(503);
      const res = await get(`${url}/meshless/signals?x=1`);
      expect(res.status, framework).toBe(200);
      const body = (await res.json()) as { format: string; service: string };
      expect(body, framework).toMatchObject({ format: 'meshless-signals/1', service });
      expect((await get(`${url}/meshless/signals`, { method: 'HEAD' })).status, framework).toBe(200);
      expect((await get(`${url}/meshless/signals`, { method: 'DELETE' })).status, framework).toBe(405);
    }
    // Three shed /work requests counted, none of the signals reads.
    expect(mesh.signals()!.inbound.find((r) => r.service === service)?.requests).toBe(3);
  });

  it("answers 504 when a handler's call runs out of the caller's deadline, in each framework", async () => {
    const { mesh, prefix } = await setup('deadline');
    const back = `slow-${prefix.slice(-8)}`;
    const slow = await startBackend(back, 'v1', 'a', { prefix });
    cleanup(() => slow.stop());
    slow.behave = (req, res) => {
      const timer = setTimeout(() => res.end('late'), 3000);
      req.socket.once('close', () => clearTimeout(timer));
      return true;
    };
    const client = mesh.client(back);
    await eventually(() => client.status().endpoints === 1, 5000, `${back} discovered`);
    const apps = await threeApps(mesh, async () => (await client.fetch('/slow')).text());
    for (const [framework, url] of Object.entries(apps)) {
      const started = performance.now();
      const res = await get(`${url}/work`, { headers: { 'x-meshless-deadline': '150' } });
      expect(res.status, framework).toBe(504);
      expect(await res.json(), framework).toMatchObject({ code: 'MESHLESS_DEADLINE_EXCEEDED' });
      expect(performance.now() - started, framework).toBeLessThan(1500);
    }
  });

  it('answers errors of a handler served without a service name (no rules) too', async () => {
    const mesh = await createMesh({
      consul: { address: consulAddress() },
      cacheDir: false,
      logger: 'silent',
    });
    cleanup(() => mesh.close());
    const url = await listen(
      createServer(
        mesh.serve(async (req) => {
          await new Promise((r) => setImmediate(r));
          throw req.url === '/open' ? new CircuitOpenError('catalog') : new DeadlineExceededError('catalog');
        }),
      ),
    );
    const late = await get(`${url}/late`);
    expect(late.status).toBe(504);
    expect(await late.json()).toEqual({ error: 'deadline_exceeded', code: 'MESHLESS_DEADLINE_EXCEEDED' });
    expect((await get(`${url}/open`)).status).toBe(503);
  });
});
