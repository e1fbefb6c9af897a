import { createMesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { type Backend, runConcurrently, startBackend } from './helpers/backends.ts';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

async function fleet(prefix: string, rules: Record<string, object>) {
  const service = `orders-${prefix.slice(-8)}`;
  const { kv, connection } = kvClient();
  cleanup(() => connection.close());
  for (const [kind, doc] of Object.entries(rules)) await kv.put(`${prefix}/services/${service}/${kind}`, doc);
  const backends: Backend[] = [];
  for (const name of ['a', 'b', 'c']) backends.push(await startBackend(service, 'v1', name, { prefix }));
  cleanup(async () => {
    await Promise.allSettled(backends.map((b) => b.stop()));
  });
  const gateway = await createMesh({
    consul: { address: consulAddress() },
    prefix,
    cacheDir: false,
    logger: 'silent',
  });
  cleanup(() => gateway.close());
  const client = gateway.client(service);
  await client.fetch('/warmup').then((r) => r.arrayBuffer());
  await eventually(() => client.status().endpoints === 3, 5000, 'three endpoints');
  return { service, backends, gateway, client };
}

describe('governed client: resilience on a real Consul', () => {
  it('retries on a different endpoint', async () => {
    const { backends, client } = await fleet(uniquePrefix('retry'), {
      policies: { retry: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 }, on: ['503'] } },
      balancer: { algorithm: 'round-robin' },
    });
    const broken = backends[0]!;
    broken.behave = (_req, res) => {
      res.writeHead(503);
      res.end();
      return true;
    };
    broken.hits = 0;
    for (let i = 0; i < 60; i++) {
      const res = await client.fetch(`/orders/${i}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { instance: string };
      expect(body.instance).not.toBe('a');
    }
    // Round-robin sends a third of first tries to the broken one; each is retried elsewhere, never on it again.
    expect(broken.hits).toBeGreaterThan(10);
    expect(broken.hits).toBeLessThanOrEqual(30);
  });

  it('never retries on the endpoint that just failed, even when the hash points at it', async () => {
    const { backends, client } = await fleet(uniquePrefix('rehash'), {
      policies: { retry: { attempts: 2, backoff: { baseMs: 0, maxMs: 0 }, on: ['503'] } },
      balancer: { algorithm: 'ring-hash', hashOn: { header: 'x-user-id' } },
    });
    for (const b of backends) {
      b.hits = 0;
      b.behave = (_req, res) => {
        res.writeHead(503);
        res.end();
        return true;
      };
    }
    // Every instance fails, and the same user always hashes to the same one: with 2 attempts
    // the call must reach 2 different instances.
    const res = await client.fetch('/orders/1', { headers: { 'x-user-id': 'always-the-same' } });
    expect(res.status).toBe(503);
    expect(backends.map((b) => b.hits).sort()).toEqual([0, 1, 1]);
  });

  it('loses no idempotent GET when an instance dies mid-load', async () => {
    const { backends, client } = await fleet(uniquePrefix('kill'), {
      policies: { retry: { attempts: 3, backoff: { baseMs: 1, maxMs: 5 } } },
      balancer: { algorithm: 'p2c-peak-ewma', outlier: { consecutiveErrors: 2, maxEjectionPercent: 50 } },
    });
    let failures = 0;
    let ok = 0;
    await runConcurrently(1500, 8, async (i) => {
      if (i === 500) await backends[1]!.crash();
      try {
        const res = await client.fetch(`/items/${i}`);
        await res.arrayBuffer();
        if (res.status === 200) ok++;
        else failures++;
      } catch {
        failures++;
      }
    });
    expect(failures).toBe(0);
    expect(ok).toBe(1500);
    expect(client.status().ejected.some((id) => id.endsWith('-b'))).toBe(true);
  });

  it('times out a slow attempt with a typed error and retries it elsewhere', async () => {
    const { backends, client } = await fleet(uniquePrefix('timeout'), {
      policies: { timeoutMs: 100, retry: { attempts: 2, backoff: { baseMs: 0, maxMs: 0 }, on: ['timeout'] } },
      balancer: { algorithm: 'round-robin' },
    });
    for (const b of backends) {
      b.behave = (_req, res) => {
        setTimeout(() => res.end('late'), 400);
        return true;
      };
    }
    const started = Date.now();
    const error = await client.fetch('/slow').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MESHLESS_TIMEOUT', timeoutMs: 100 });
    // Two attempts of 100 ms each, not the 400 ms of the slow answer.
    expect(Date.now() - started).toBeLessThan(380);
    backends[0]!.behave = () => false;
    backends[1]!.behave = () => false;
    backends[2]!.behave = () => false;
    expect((await client.fetch('/fast')).status).toBe(200);
  });

  it('hedges a slow attempt to another endpoint, and the losing request is cancelled', async () => {
    const { backends, client, gateway, service } = await fleet(uniquePrefix('hedge'), {
      policies: { hedge: { delayMs: 40, maxAttempts: 2 } },
      balancer: { algorithm: 'round-robin' },
    });
    // Instance a answers after 2 s; b and c at once.
    let cancelled = 0;
    backends[0]!.behave = (req, res) => {
      const timer = setTimeout(() => res.end('{"instance":"a"}'), 2000);
      req.socket.once('close', () => {
        clearTimeout(timer);
        cancelled++;
      });
      return true;
    };
    backends[0]!.hits = 0;
    for (let i = 0; i < 9; i++) {
      const started = performance.now();
      const res = await client.fetch(`/items/${i}`);
      expect(((await res.json()) as { instance: string }).instance).not.toBe('a');
      // The hedge, not the slow answer: about delayMs on the slow instance's turns.
      expect(performance.now() - started).toBeLessThan(1000);
    }
    // Round-robin gave a its turns; each was hedged elsewhere and its request cancelled.
    expect(backends[0]!.hits).toBeGreaterThanOrEqual(2);
    await eventually(() => cancelled === backends[0]!.hits, 2000, 'losing requests cancelled');
    await expect(gateway.metrics()).resolves.toMatch(
      new RegExp(
        `meshless_client_hedges_total\\{service="${service}",reason="delay"\\} ${backends[0]!.hits}`,
      ),
    );
  });

  it('opens the breaker of an endpoint that keeps failing', async () => {
    const { backends, client, gateway } = await fleet(uniquePrefix('breaker'), {
      policies: { breaker: { errorPercent: 50, volume: 5, openMs: 60_000 } },
      balancer: { algorithm: 'round-robin' },
    });
    backends[2]!.behave = (_req, res) => {
      res.writeHead(500);
      res.end();
      return true;
    };
    for (let i = 0; i < 40; i++) await (await client.fetch('/x')).arrayBuffer();
    const open = gateway.status().breakers.filter((b) => b.state === 'open');
    expect(open.map((b) => b.endpointId)).toEqual([expect.stringMatching(/-c$/)]);
    // With its breaker open, the failing endpoint gets no more traffic.
    const hits = backends[2]!.hits;
    for (let i = 0; i < 30; i++) expect((await client.fetch('/y')).status).toBe(200);
    expect(backends[2]!.hits).toBe(hits);
  });
});
