import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import type { Mesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { parsePromText, sampleValue } from '../packages/metrics/src/testing/prom-text.ts';
import { startServedMesh } from './helpers/backends.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

function setup(label: string) {
  return startServedMesh('inventory', label, cleanup);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function nodeServer(mesh: Mesh, handler?: (gate: Promise<void>) => Promise<void>) {
  let open!: () => void;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  const server = createServer(
    mesh.serve(async (_req, res) => {
      if (handler) await handler(gate);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    }),
  );
  return { server, open };
}

describe('inbound rules on the server side', () => {
  it('rate-limits with 429 and Retry-After, live from KV', async () => {
    const { mesh, setInbound } = await setup('rl');
    const url = await listen(nodeServer(mesh).server);
    for (let i = 0; i < 10; i++) expect((await fetch(`${url}/a`)).status).toBe(200);
    await setInbound({ rateLimit: { perSecond: 1, burst: 5 } });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${url}/a`);
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
      await res.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(5);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(6);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(6);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it('keeps one bucket per calling service with perCaller', async () => {
    const { mesh, setInbound } = await setup('caller');
    const url = await listen(nodeServer(mesh).server);
    await setInbound({ rateLimit: { perSecond: 1, burst: 2, perCaller: true } });
    const call = async (caller: string) =>
      (await fetch(`${url}/a`, { headers: { 'x-meshless-caller': caller } })).status;
    expect([await call('web'), await call('web'), await call('web')]).toEqual([200, 200, 429]);
    expect([await call('batch'), await call('batch')]).toEqual([200, 200]);
  });

  it('sheds over the concurrency limit with 503', async () => {
    const { mesh, setInbound } = await setup('conc');
    const { server, open } = nodeServer(mesh, (gate) => gate);
    const url = await listen(server);
    await setInbound({ concurrency: { max: 2 } });
    const pending = Array.from({ length: 5 }, () => fetch(`${url}/slow`));
    const early = await Promise.race([
      Promise.all(pending.slice(2)),
      new Promise((r) => setTimeout(r, 2000, 'timeout')),
    ]);
    expect(early).not.toBe('timeout');
    expect((early as Response[]).map((r) => r.status)).toEqual([503, 503, 503]);
    expect((early as Response[])[0]!.headers.get('retry-after')).toBe('1');
    open();
    expect((await Promise.all(pending.slice(0, 2))).map((r) => r.status)).toEqual([200, 200]);
  });

  it('answers 500 when an async handler rejects, and frees its concurrency slot', async () => {
    const { mesh, setInbound } = await setup('reject');
    let calls = 0;
    const server = createServer(
      mesh.serve(async (_req, res) => {
        calls++;
        await new Promise((r) => setImmediate(r));
        if (calls <= 3) throw new Error('handler bug');
        res.end('ok');
      }),
    );
    const url = await listen(server);
    await setInbound({ concurrency: { max: 1 } });
    // One at a time: each failure must release the only slot, or the next would be shed.
    for (let i = 0; i < 3; i++) expect((await fetch(`${url}/x`)).status).toBe(500);
    const ok = await fetch(`${url}/x`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('ok');
  });

  it('injects inbound faults and serves the health endpoint', async () => {
    const { mesh, setInbound } = await setup('fault');
    const url = await listen(nodeServer(mesh).server);
    expect(await (await fetch(`${url}/meshless/health`)).json()).toEqual({ status: 'passing' });
    await setInbound({ fault: { abort: { percent: 100, status: 418 } } });
    expect((await fetch(`${url}/a`)).status).toBe(418);
  });

  it('tells the inbound hooks and the server metrics of every request, shed ones included', async () => {
    const handled: [string, number][] = [];
    const shed: string[] = [];
    let allHandled!: () => void;
    const fourHandled = new Promise<void>((r) => {
      allHandled = r;
    });
    const { mesh, service, setInbound } = await startServedMesh('inventory', 'hooks', cleanup, {
      observers: {
        inbound: {
          onShed: (reason) => shed.push(reason),
          onHandled: (method, status) => {
            // Called once the response is finished, which may be after the client has read it.
            if (handled.push([method, status]) === 4) allHandled();
          },
        },
      },
    });
    const url = await listen(nodeServer(mesh).server);
    for (let i = 0; i < 2; i++) expect((await fetch(`${url}/a`)).status).toBe(200);
    await setInbound({ fault: { abort: { percent: 100, status: 503 } } });
    for (let i = 0; i < 2; i++) expect((await fetch(`${url}/a`, { method: 'POST' })).status).toBe(503);
    await fourHandled;
    expect(handled).toEqual([
      ['GET', 200],
      ['GET', 200],
      ['POST', 503],
      ['POST', 503],
    ]);
    expect(shed).toEqual(['fault_abort', 'fault_abort']);
    const exp = parsePromText(await mesh.metrics());
    const total = (method: string, statusClass: string) =>
      sampleValue(exp, 'meshless_server_requests_total', { service, method, status_class: statusClass });
    expect(total('GET', '2xx')).toBe(2);
    expect(total('POST', '5xx')).toBe(2);
    expect(sampleValue(exp, 'meshless_server_rejected_total', { service, reason: 'fault_abort' })).toBe(2);
  });

  it('works as Express middleware and as a Fastify plugin', async () => {
    const { mesh, setInbound } = await setup('frameworks');
    const app = express();
    app.use(mesh.middleware());
    app.get('/hello', (_req, res) => {
      res.send('express');
    });
    const expressUrl = await listen(createServer(app));
    const fastify = Fastify();
    await fastify.register(mesh.fastifyPlugin);
    fastify.get('/hello', async () => 'fastify');
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    cleanup(() => fastify.close());
    const fastifyUrl = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;

    expect(await (await fetch(`${expressUrl}/hello`)).text()).toBe('express');
    expect(await (await fetch(`${fastifyUrl}/hello`)).text()).toBe('fastify');
    await setInbound({ fault: { abort: { percent: 100, status: 503 } } });
    expect((await fetch(`${expressUrl}/hello`)).status).toBe(503);
    expect((await fetch(`${fastifyUrl}/hello`)).status).toBe(503);
    expect((await fetch(`${fastifyUrl}/meshless/health`)).status).toBe(200);
  });
});
