import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';

describe('graceful shutdown on SIGTERM', () => {
  it('leaves discovery first, drains, deregisters and exits 0', async () => {
    const prefix = uniquePrefix('sig');
    const service = `signals-${prefix.slice(-8)}`;
    const id = `${service}-1`;
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./fixtures/signal-instance.ts', import.meta.url))],
      {
        env: {
          ...process.env,
          CONSUL_HTTP_ADDR: consulAddress(),
          TEST_PREFIX: prefix,
          TEST_SERVICE: service,
          TEST_ID: id,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const ready = await new Promise<string>((resolve) =>
      createInterface({ input: child.stdout! }).once('line', (l) => resolve(JSON.parse(l).ready)),
    );
    expect(ready).toBe(id);
    const { connection } = kvClient();
    const passing = async () =>
      (await connection.json<unknown[]>({ path: `/v1/health/service/${service}`, query: { passing: true } }))
        .length;
    const registered = async () =>
      Object.keys(await connection.json<Record<string, unknown>>({ path: '/v1/agent/services' })).includes(
        id,
      );
    expect(await passing()).toBe(1);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    // During the drain the instance is still registered but no longer passing (maintenance mode).
    await eventually(async () => (await passing()) === 0, 2000, 'out of ?passing');
    expect(await exited).toBe(0);
    expect(await registered()).toBe(false);
    await connection.close();
  });

  it('answers every inbound request before exiting: finished within the grace, else 503', async () => {
    const prefix = uniquePrefix('sig');
    const service = `signals-${prefix.slice(-8)}`;
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./fixtures/signal-server.ts', import.meta.url))],
      {
        env: {
          ...process.env,
          CONSUL_HTTP_ADDR: consulAddress(),
          TEST_PREFIX: prefix,
          TEST_SERVICE: service,
          TEST_ID: `${service}-1`,
          TEST_DRAIN_MS: '200',
          TEST_GRACE_MS: '600',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines = createInterface({ input: child.stdout! });
    const arrived = new Set<string>();
    let onArrived = () => {};
    const port = await new Promise<number>((resolve) =>
      lines.on('line', (line) => {
        const message = JSON.parse(line) as { port?: number; arrived?: string };
        if (message.port) resolve(message.port);
        if (message.arrived) {
          arrived.add(message.arrived);
          onArrived();
        }
      }),
    );
    const url = `http://127.0.0.1:${port}`;
    const answer = async (path: string) => {
      const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
      return { status: res.status, connection: res.headers.get('connection'), body: await res.text() };
    };
    // One request that outlives the 200 ms drain but ends within the 600 ms grace, one that never ends.
    const slow = answer('/slow?ms=500');
    const hang = answer('/hang');
    await new Promise<void>((resolve) => {
      onArrived = () => arrived.size === 2 && resolve();
      onArrived();
    });
    const signalled = performance.now();
    child.kill('SIGTERM');

    const [finished, cut] = await Promise.all([slow, hang]);
    expect(finished).toEqual({ status: 200, connection: 'keep-alive', body: 'done' });
    expect(cut.status).toBe(503);
    expect(cut.connection).toBe('close');
    expect(JSON.parse(cut.body)).toEqual({ error: 'shutting_down' });
    // Answered once the drain and the grace had passed, not held up to the fetch timeout.
    expect(performance.now() - signalled).toBeGreaterThanOrEqual(700);
    expect(performance.now() - signalled).toBeLessThan(3000);
    expect(await exited).toBe(0);
  });
});
