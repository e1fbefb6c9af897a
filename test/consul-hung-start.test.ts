import { mkdtempSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh, policiesSection } from 'meshless';
import { describe, expect, it } from 'vitest';
import { hungAgent } from './helpers/hung-agent.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

describe('createMesh with a Consul that accepts connections and never answers', () => {
  it('resolves within readyTimeoutMs with the cached rules, serves cached endpoints at once, and reports Consul unreachable', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-hung-'));
    const agent = await ConsulDevAgent.start();
    const address = agent.address;
    const backend: Server = createHttpServer((_req, res) => res.end('stock-ok'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    cleanup(() => new Promise((r) => backend.close(() => r())));
    const port = (backend.address() as AddressInfo).port;

    // A first run against the real agent warms the cache: a rule and the endpoints of `stock`.
    const connection = new ConsulConnection({ address });
    const kv = new ConsulKv(connection);
    await kv.put('meshless/services/stock/policies', { timeoutMs: 777 });
    const stock = await createMesh({
      consul: { address },
      cacheDir: false,
      logger: 'silent',
      service: { name: 'stock', port, address: '127.0.0.1', drainMs: 0 },
    });
    const warm = await createMesh({ consul: { address }, cacheDir, logger: 'silent' });
    expect(warm.rules.get(policiesSection, 'stock')).toEqual({ timeoutMs: 777 });
    expect(await (await warm.client('stock').fetch('/')).text()).toBe('stock-ok');
    await warm.close();
    await stock.close();
    await connection.close();
    await agent.stop();

    // The agent's port now accepts connections and never answers.
    const hung = await hungAgent(agent.ports.http);
    cleanup(() => hung.close());

    const readyTimeoutMs = 1000;
    const started = Date.now();
    const mesh = await createMesh({
      consul: { address },
      cacheDir,
      logger: 'silent',
      readyTimeoutMs,
      service: { name: 'gateway', port: 1, address: '127.0.0.1', drainMs: 0, ttlMs: 1000 },
    });
    cleanup(async () => {
      await hung.close(); // so close() is not held up by requests to the hung agent
      await mesh.close();
    });
    const took = Date.now() - started;
    expect(took).toBeLessThan(readyTimeoutMs + 500);
    expect(mesh.rules.get(policiesSection, 'stock')).toEqual({ timeoutMs: 777 });
    expect(mesh.status().rules.origin).toBe('cache');
    expect(mesh.status().consul.reachable).toBe(false);

    // createMesh's time is up: the first call serves the cached endpoints without waiting.
    const callStarted = Date.now();
    const res = await mesh.client('stock').fetch('/');
    expect(await res.text()).toBe('stock-ok');
    expect(Date.now() - callStarted).toBeLessThan(500);
    expect(mesh.status().consul.reachable).toBe(false);
  }, 30_000);

  it('with nothing cached, a first call after createMesh fails fast with a typed error', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-hung-empty-'));
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const hung = await hungAgent(port);
    cleanup(() => hung.close());
    const mesh = await createMesh({
      consul: { address: `127.0.0.1:${port}` },
      cacheDir,
      logger: 'silent',
      readyTimeoutMs: 800,
    });
    cleanup(async () => {
      await hung.close();
      await mesh.close();
    });
    expect(mesh.status().rules.origin).toBe('none');
    // Nothing cached for this service: the call fails fast with a typed error, not after 15 s.
    const started = Date.now();
    const error = await mesh
      .client('nowhere')
      .fetch('/')
      .then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
    expect(error?.code).toMatch(/^MESHLESS_/);
    expect(Date.now() - started).toBeLessThan(500);
    expect(mesh.status().consul.reachable).toBe(false);
  }, 20_000);
});
