import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';

// A Nest app (ESM, current Nest) in its own process, built as a team builds one (tsc with legacy
// decorators and type metadata): MeshModule.forRootAsync from ConfigService, a @Governed method
// whose rule comes from Consul KV live, meshless errors answered by MeshExceptionFilter, and
// SIGTERM with enableShutdownHooks(): the instance is deregistered before the process exits.

const root = fileURLToPath(new URL('..', import.meta.url));
// Under the root's node_modules: the compiled app resolves Nest and meshless from there.
const out = `${root}node_modules/.cache/meshless-nestjs/esm`;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

beforeAll(async () => {
  const tsc = [`${root}node_modules/.bin/tsc`, '-p', `${root}test/fixtures/nestjs-app/tsconfig.json`];
  // tsc reports type errors on stdout: show them.
  await promisify(execFile)(process.execPath, [...tsc, '--outDir', out], { cwd: root }).catch((e) => {
    throw new Error(`tsc failed:\n${e.stdout}${e.stderr}`);
  });
}, 60_000);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function get(
  port: number,
  path: string,
): Promise<{ status: number; body: unknown; retryAfter: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') };
}

describe('a Nest app with MeshModule (ESM, current Nest)', () => {
  it('takes a rule from KV live, answers meshless errors as HTTP, and deregisters before it exits', async () => {
    const prefix = uniquePrefix('nest');
    const service = `nest-${prefix.slice(-8)}`;
    const id = `${service}-1`;
    const port = await freePort();
    const child = spawn(process.execPath, [`${out}/app.js`], {
      env: {
        ...process.env,
        CONSUL_HTTP_ADDR: consulAddress(),
        TEST_PREFIX: prefix,
        TEST_SERVICE: service,
        TEST_ID: id,
        TEST_PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const ready = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', (l) => resolve(JSON.parse(l).ready));
      child.once('exit', (code) => reject(new Error(`app exited (${code}) before it was ready`)));
    });
    expect(ready).toBe(id);
    const { kv, connection } = kvClient();
    const registered = async () =>
      Object.keys(await connection.json<Record<string, unknown>>({ path: '/v1/agent/services' })).includes(
        id,
      );
    try {
      expect(await registered()).toBe(true);
      expect(await get(port, '/whoami')).toMatchObject({
        status: 200,
        body: { serviceId: id, client: 'pricing' },
      });

      // The code value (2 s) lets a 200 ms call through; a rule of 50 ms from KV times it out: 504.
      expect(await get(port, '/items/1?delay=200')).toMatchObject({ status: 200, body: { id: '1' } });
      await kv.put(`${prefix}/resources/catalog.getItem`, { timeoutMs: 50 });
      await eventually(
        async () => (await get(port, '/items/1?delay=200')).status === 504,
        5000,
        'rule applied',
      );
      expect(await get(port, '/items/2?delay=200')).toMatchObject({
        status: 504,
        body: { error: 'timeout', code: 'MESHLESS_TIMEOUT' },
      });

      // Rate limited: 429 with Retry-After.
      await kv.put(`${prefix}/resources/catalog.getItem`, { rateLimit: { perSecond: 1, burst: 1 } });
      let limited: Awaited<ReturnType<typeof get>> | undefined;
      await eventually(
        async () => {
          limited = await get(port, '/items/3');
          return limited.status === 429;
        },
        5000,
        'rate limit applied',
      );
      expect(limited).toMatchObject({ body: { error: 'rate_limited', code: 'MESHLESS_RATE_LIMITED' } });
      expect(Number(limited?.retryAfter)).toBeGreaterThanOrEqual(1);

      child.kill('SIGTERM');
      // Nest runs its shutdown hooks (the mesh drains, deregisters, closes), then re-raises the signal.
      expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
      // Gone the moment the process is: the mesh deregistered during Nest's shutdown, before exit.
      expect(await registered()).toBe(false);
    } finally {
      await connection.close();
    }
  });
});
