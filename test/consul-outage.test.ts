import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent, freePorts } from '@meshless/consul/testing';
import { createMesh, policiesSection } from 'meshless';
import { describe, expect, it } from 'vitest';
import { eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// These tests crash and restart their own agents; the shared one is never touched.

// Each test also fails if it leaves an unhandled rejection behind.
useCleanupsAndNoUnhandledRejections();

describe('Consul outages', () => {
  it('recovers from kill -9 of the agent and a restart on the same ports, without a busy loop', async () => {
    const agent = await ConsulDevAgent.start();
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-outage-'));
    const connection = new ConsulConnection({ address: agent.address });
    const kv = new ConsulKv(connection);
    const key = 'meshless/services/catalog/policies';
    try {
      await kv.put(key, { timeoutMs: 100 });
      const mesh = await createMesh({ consul: { address: agent.address }, cacheDir, logger: 'silent' });
      expect(mesh.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 100 });

      await agent.kill9();
      const before = mesh.status().consul.watch.requests;
      // Stay down for 3 s: the watch must back off, not spin.
      await new Promise((r) => setTimeout(r, 3000));
      const during = mesh.status().consul.watch.requests - before;
      expect(during).toBeGreaterThan(0);
      expect(during).toBeLessThanOrEqual(12);
      expect(mesh.status().consul.reachable).toBe(false);
      // Rules stay in force during the outage.
      expect(mesh.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 100 });

      await agent.restart();
      // Dev mode lost its data: the operator writes the rule again (a new value, to see it applied).
      await kv.put(key, { timeoutMs: 200 });
      await eventually(
        () => mesh.rules.get(policiesSection, 'catalog')?.timeoutMs === 200,
        15_000,
        'recovery',
      );
      expect(mesh.status().consul.reachable).toBe(true);
      await mesh.close();
    } finally {
      await connection.close();
      await agent.stop();
    }
  }, 40_000);

  it('starts from the disk cache while Consul is unreachable, then catches up', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-cache-start-'));
    const agent = await ConsulDevAgent.start();
    const address = agent.address;
    const connection = new ConsulConnection({ address });
    const kv = new ConsulKv(connection);
    const key = 'meshless/services/catalog/policies';
    try {
      await kv.put(key, { timeoutMs: 111 });
      const first = await createMesh({ consul: { address }, cacheDir, logger: 'silent' });
      expect(first.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 111 });
      await first.close();
      await agent.kill9();

      // A new process (here: a new mesh) starts while Consul is down.
      const started = Date.now();
      const second = await createMesh({ consul: { address }, cacheDir, logger: 'silent' });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(second.rules.get(policiesSection, 'catalog')).toEqual({ timeoutMs: 111 });
      expect(second.status().rules.origin).toBe('cache');

      await agent.restart();
      await kv.put(key, { timeoutMs: 222 });
      await eventually(
        () => second.rules.get(policiesSection, 'catalog')?.timeoutMs === 222,
        15_000,
        'catch-up',
      );
      expect(second.status().rules.origin).toBe('source');
      await second.close();
    } finally {
      await connection.close();
      await agent.stop();
    }
  }, 40_000);

  it('starts with defaults, not an error, when Consul is unreachable and nothing is cached', async () => {
    const ports = await freePorts();
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-empty-'));
    const mesh = await createMesh({
      consul: { address: `127.0.0.1:${ports.http}` },
      cacheDir,
      logger: 'silent',
    });
    expect(mesh.rules.get(policiesSection, 'catalog')).toBeUndefined();
    expect(mesh.status().consul.reachable).toBe(false);
    expect(mesh.status().rules.origin).toBe('none');
    await mesh.close();
    await mesh.close(); // idempotent
  });
});
