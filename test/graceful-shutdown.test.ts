import { spawn } from 'node:child_process';
import { request } from 'node:http';
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
    const { child, exited } = startSignalServer(200);
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

  it('under load, serves every request during the drain and refuses the later ones, with no socket error', async () => {
    const { child, exited } = startSignalServer(600);
    const lines = createInterface({ input: child.stdout! });
    const port = await new Promise<number>((resolve) =>
      lines.on('line', (line) => {
        const message = JSON.parse(line) as { port?: number };
        if (message.port) resolve(message.port);
      }),
    );
    // One request per fresh connection: the status, or the socket error's code.
    const once = () =>
      new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
        const req = request({ host: '127.0.0.1', port, path: '/slow?ms=20', agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: String(error.code) }));
        });
        req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: String(error.code) }));
        req.end();
      });
    let signalledAt = Number.POSITIVE_INFINITY;
    const answers: { sentAt: number; status?: number; body?: string; error?: string }[] = [];
    // Four callers, each going on until the instance refuses it (a caller honouring the 503), bounded.
    const callers = Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 2000; i++) {
        const sentAt = performance.now();
        const answer = await once();
        answers.push({ sentAt, ...answer });
        if ('error' in answer || answer.status !== 200) return;
      }
    });
    await new Promise<void>((resolve) => {
      const check = () => (answers.length >= 20 ? resolve() : setImmediate(check));
      check();
    });
    signalledAt = performance.now();
    child.kill('SIGTERM');
    await Promise.all(callers);
    expect(await exited).toBe(0);

    expect(answers.filter((a) => a.error !== undefined)).toEqual([]);
    const duringDrain = answers.filter((a) => a.sentAt > signalledAt && a.status === 200);
    expect(duringDrain.length).toBeGreaterThan(10);
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.length).toBe(4);
    for (const r of refused)
      expect([r.status, r.body]).toEqual([503, JSON.stringify({ error: 'shutting_down' })]);
  });
});

/** The signal-server fixture as its own process, registered under a fresh service name. */
function startSignalServer(drainMs: number) {
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
        TEST_DRAIN_MS: String(drainMs),
        TEST_GRACE_MS: '600',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, prefix, service };
}
