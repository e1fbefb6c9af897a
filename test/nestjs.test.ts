import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { compileNestApp, getJson, type NestApp, startNestApp } from './helpers/nest-app.ts';

// A Nest app (ESM, current Nest) in its own process, built as a team builds one (tsc with legacy
// decorators and type metadata): MeshModule.forRootAsync from ConfigService, a @Governed method
// whose rule comes from Consul KV live, meshless errors answered by MeshExceptionFilter, and
// SIGTERM with enableShutdownHooks(): the instance is deregistered before the process exits.

const root = fileURLToPath(new URL('..', import.meta.url));
// Under the root's node_modules: the compiled app resolves Nest and meshless from there.
const out = `${root}node_modules/.cache/meshless-nestjs/esm`;
const apps: NestApp[] = [];
afterEach(() => {
  for (const { child } of apps.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

beforeAll(() => compileNestApp(root, `${root}test/fixtures/nestjs-app/tsconfig.json`, out), 60_000);

describe('a Nest app with MeshModule (ESM, current Nest)', () => {
  it('takes a rule from KV live, answers meshless errors as HTTP, and deregisters before it exits', async () => {
    const prefix = uniquePrefix('nest');
    const service = `nest-${prefix.slice(-8)}`;
    const id = `${service}-1`;
    const app = await startNestApp(`${out}/app.js`, { prefix, service, id });
    apps.push(app);
    const { port } = app;
    expect(app.ready).toBe(id);
    const { kv, connection } = kvClient();
    const registered = async () =>
      Object.keys(await connection.json<Record<string, unknown>>({ path: '/v1/agent/services' })).includes(
        id,
      );
    try {
      expect(await registered()).toBe(true);
      expect(await getJson(port, '/whoami')).toMatchObject({
        status: 200,
        body: { serviceId: id, client: 'pricing' },
      });

      // The code value (2 s) lets a 200 ms call through; a rule of 50 ms from KV times it out: 504.
      expect(await getJson(port, '/items/1?delay=200')).toMatchObject({ status: 200, body: { id: '1' } });
      await kv.put(`${prefix}/resources/catalog.getItem`, { timeoutMs: 50 });
      await eventually(
        async () => (await getJson(port, '/items/1?delay=200')).status === 504,
        5000,
        'rule applied',
      );
      expect(await getJson(port, '/items/2?delay=200')).toMatchObject({
        status: 504,
        body: { error: 'timeout', code: 'MESHLESS_TIMEOUT' },
      });

      // Rate limited: 429 with Retry-After.
      await kv.put(`${prefix}/resources/catalog.getItem`, { rateLimit: { perSecond: 1, burst: 1 } });
      let limited: Awaited<ReturnType<typeof getJson>> | undefined;
      await eventually(
        async () => {
          limited = await getJson(port, '/items/3');
          return limited.status === 429;
        },
        5000,
        'rate limit applied',
      );
      expect(limited).toMatchObject({ body: { error: 'rate_limited', code: 'MESHLESS_RATE_LIMITED' } });
      expect(Number(limited?.retryAfter)).toBeGreaterThanOrEqual(1);

      app.child.kill('SIGTERM');
      // Nest runs its shutdown hooks (the mesh drains, deregisters, closes), then re-raises the signal.
      expect(await app.exited).toEqual({ code: null, signal: 'SIGTERM' });
      // Gone the moment the process is: the mesh deregistered during Nest's shutdown, before exit.
      expect(await registered()).toBe(false);
    } finally {
      await connection.close();
    }
  });
});
