import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMesh, type Mesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { parsePromText, select } from '../packages/metrics/src/testing/prom-text.ts';
import { type Backend, startBackend } from './helpers/backends.ts';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

const CALL_HEADER = 'x-test-call';

/**
 * Two real instances of a service behind a real Consul, a `policies` rule in KV, and a gateway
 * mesh calling them. Each instance notes the attempts it got per call (by a header the test sends).
 */
async function fleet(name: string, policies: object, behave: Backend['behave']) {
  const prefix = uniquePrefix(name);
  const service = `${name}-${prefix.slice(-8)}`;
  const { kv, connection } = kvClient();
  cleanup(() => connection.close());
  await kv.put(`${prefix}/services/${service}/policies`, policies);
  const attempts = new Map<string, number>();
  const backends: Backend[] = [];
  for (const instance of ['a', 'b']) {
    const backend = await startBackend(service, 'v1', instance, { prefix });
    backend.behave = (req: IncomingMessage, res: ServerResponse) => {
      const call = req.headers[CALL_HEADER];
      if (typeof call === 'string') attempts.set(call, (attempts.get(call) ?? 0) + 1);
      return behave(req, res);
    };
    backends.push(backend);
  }
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
  await (await client.fetch('/warmup')).arrayBuffer();
  await eventually(() => client.status().endpoints === 2, 5000, 'two endpoints');
  return { service, gateway, client, attempts };
}

/** The sum of a counter's samples with these labels, read from `mesh.metrics()` (0 while absent). */
async function counter(mesh: Mesh, name: string, labels: Record<string, string>): Promise<number> {
  return select(parsePromText(await mesh.metrics()), name, labels).reduce((sum, s) => sum + s.value, 0);
}

const unavailable: Backend['behave'] = (_req, res) => {
  res.writeHead(503);
  res.end();
  return true;
};

/** Sends `calls` calls one after the other, each named by CALL_HEADER, expecting `status`; returns the seconds taken. */
async function sendCalls(
  client: { fetch(path: string, init: { headers: Record<string, string> }): Promise<Response> },
  path: string,
  calls: number,
  status: number,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const res = await client.fetch(`${path}/${i}`, { headers: { [CALL_HEADER]: String(i) } });
    expect(res.status).toBe(status);
    await res.arrayBuffer();
  }
  return (performance.now() - started) / 1000;
}

/** How many attempts each call's instances saw, by call number. */
function attemptsPerCall(attempts: ReadonlyMap<string, number>, calls: number): number[] {
  return Array.from({ length: calls }, (_, i) => attempts.get(String(i)) ?? 0);
}

describe('retry budget on a real Consul and real HTTP', () => {
  it('counts every retry the budget refuses, and sends no more retries than it allows', async () => {
    const budget = { percent: 20, minPerSecond: 1 };
    const { service, gateway, client, attempts } = await fleet(
      'budget',
      { retry: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 }, on: ['503'], budget } },
      unavailable,
    );
    const exhausted = { service, kind: 'retry' };
    const refusedBefore = await counter(gateway, 'meshless_client_retry_budget_exhausted_total', exhausted);
    const retriesBefore = await counter(gateway, 'meshless_client_retries_total', { service });
    const calls = 200;
    const seconds = await sendCalls(client, '/orders', calls, 503);

    const perCall = attemptsPerCall(attempts, calls);
    expect(perCall.every((n) => n >= 1 && n <= 3)).toBe(true);
    const retries = perCall.reduce((a, b) => a + b, 0) - calls;
    // Every call wants 2 retries; a call that made fewer was stopped by one refusal.
    const refusals = perCall.filter((n) => n < 3).length;
    expect(refusals).toBeGreaterThan(0);
    const refused =
      (await counter(gateway, 'meshless_client_retry_budget_exhausted_total', exhausted)) - refusedBefore;
    expect(refused).toBe(refusals);
    expect((await counter(gateway, 'meshless_client_retries_total', { service })) - retriesBefore).toBe(
      retries,
    );
    // Within the budget: 20 % of the requests (the warm-up call included) plus the reserve of
    // one retry per second, which starts full.
    expect(retries).toBeLessThanOrEqual(Math.floor(0.2 * (calls + 1)) + 1 + Math.ceil(seconds));
    expect(retries).toBeGreaterThanOrEqual(Math.floor(0.2 * calls) - 1);
  });

  it('hedges draw from retry.budget: a hedge of a failed attempt beyond it is not sent, and is counted', async () => {
    const { service, gateway, client, attempts } = await fleet(
      'hedgefail',
      // No retry attempts: the budget alone; hedging starts the next attempt when the first fails.
      { hedge: { delayMs: 5000, maxAttempts: 2 }, retry: { budget: { percent: 20, minPerSecond: 1 } } },
      unavailable,
    );
    const exhausted = { service, kind: 'hedge' };
    const refusedBefore = await counter(gateway, 'meshless_client_retry_budget_exhausted_total', exhausted);
    const hedgesBefore = await counter(gateway, 'meshless_client_hedges_total', { service });
    const calls = 150;
    const seconds = await sendCalls(client, '/orders', calls, 503);

    const perCall = attemptsPerCall(attempts, calls);
    expect(perCall.every((n) => n === 1 || n === 2)).toBe(true);
    const hedges = perCall.filter((n) => n === 2).length;
    const refusals = perCall.filter((n) => n === 1).length;
    expect(refusals).toBeGreaterThan(0);
    expect(
      (await counter(gateway, 'meshless_client_retry_budget_exhausted_total', exhausted)) - refusedBefore,
    ).toBe(refusals);
    expect((await counter(gateway, 'meshless_client_hedges_total', { service })) - hedgesBefore).toBe(hedges);
    expect(hedges).toBeLessThanOrEqual(Math.floor(0.2 * (calls + 1)) + 1 + Math.ceil(seconds));
  });

  it('hedges draw from retry.budget: a hedge whose delay passed beyond it is not sent, and is counted', async () => {
    // Slow enough that a hedge sent at 5 ms reaches the instance before the first answer ends the
    // call, even on a loaded machine (a hedge aborted before it arrives is counted, never seen).
    const slow: Backend['behave'] = (_req, res) => {
      const timer = setTimeout(() => res.end('slow'), 150);
      res.on('close', () => clearTimeout(timer));
      return true;
    };
    const { service, gateway, client, attempts } = await fleet(
      'hedgedelay',
      { hedge: { delayMs: 5, maxAttempts: 2 }, retry: { budget: { percent: 20, minPerSecond: 1 } } },
      slow,
    );
    const exhausted = { service, kind: 'hedge' };
    const refusedBefore = await counter(gateway, 'meshless_client_retry_budget_exhausted_total', exhausted);
    const hedgesBefore = await counter(gateway, 'meshless_client_hedges_total', { service, reason: 'delay' });
    const calls = 30;
    const seconds = await sendCalls(client, '/items', calls, 200);
    // A hedge that lost is aborted; the instance still saw it arrive (it started 145 ms before the win).
    await eventually(
      async () =>
        attemptsPerCall(attempts, calls).reduce((a, b) => a + b, 0) - calls ===
        (await counter(gateway, 'meshless_client_hedges_total', { service, reason: 'delay' })) - hedgesBefore,
      5000,
      'every hedge sent seen by an instance',
    );

    const perCall = attemptsPerCall(attempts, calls);
    expect(perCall.every((n) => n === 1 || n === 2)).toBe(true);
    const hedges = perCall.filter((n) => n === 2).length;
    const refusals = perCall.filter((n) => n === 1).length;
    expect(refusals).toBeGreaterThan(0);
    expect(
      (await counter(gateway, 'meshless_client_retry_budget_exhausted_total', exhausted)) - refusedBefore,
    ).toBe(refusals);
    expect(hedges).toBeLessThanOrEqual(Math.floor(0.2 * (calls + 1)) + 1 + Math.ceil(seconds));
  });
});
