import { cpSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { compileNestApp, getJson, type NestApp, startNestApp } from './helpers/nest-app.ts';

// The app Nest 10/11 teams have: CommonJS (no top-level await), Nest 11. The fixture folder is a
// workspace of its own, so npm installs Nest 11 in its node_modules beside the root's current
// Nest. @meshless/nestjs is copied in there (package.json and dist, as npm installs a package)
// so its own require('@nestjs/common') finds Nest 11 too, not the root's; meshless resolves
// from the root as in any app.

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = `${root}test/fixtures/nestjs11-cjs`;
const apps: NestApp[] = [];
afterEach(() => {
  for (const { child } of apps.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

beforeAll(async () => {
  const installed = `${fixture}/node_modules/@meshless/nestjs`;
  rmSync(installed, { recursive: true, force: true });
  for (const part of ['package.json', 'dist']) {
    cpSync(`${root}packages/nestjs/${part}`, `${installed}/${part}`, { recursive: true });
  }
  await compileNestApp(root, `${fixture}/tsconfig.json`);
}, 60_000);

const version = (name: string) =>
  (JSON.parse(readFileSync(`${fixture}/node_modules/${name}/package.json`, 'utf8')) as { version: string })
    .version;

describe('a CommonJS Nest 11 app with MeshModule', () => {
  it('loads Nest 11 in CommonJS, takes a rule from KV live, and deregisters before it exits', async () => {
    const prefix = uniquePrefix('nest11');
    const service = `nest11-${prefix.slice(-8)}`;
    const id = `${service}-1`;
    const app = await startNestApp(`${fixture}/dist/app.js`, { prefix, service, id });
    apps.push(app);
    const { port } = app;
    const { kv, connection } = kvClient();
    const registered = async () =>
      Object.keys(await connection.json<Record<string, unknown>>({ path: '/v1/agent/services' })).includes(
        id,
      );
    try {
      expect(app.ready).toBe(id);
      expect(await registered()).toBe(true);
      const who = await getJson(port, '/whoami');
      const loaded = (who.body as { loaded: Record<string, string> }).loaded;
      expect(version('@nestjs/core')).toMatch(/^11\./);
      expect(version('@nestjs/common')).toMatch(/^11\./);
      for (const name of ['@nestjs/common', '@nestjs/core', '@meshless/nestjs']) {
        expect(loaded[name]).toMatch(new RegExp(`^${fixture}/node_modules/${name}/.*\\.c?js$`));
      }
      expect(loaded['@meshless/nestjs']).toMatch(/index\.cjs$/);
      expect(loaded.meshless).toBe(`${root}packages/meshless/dist/index.cjs`);

      expect(await getJson(port, '/stock/a?delay=200')).toMatchObject({ status: 200, body: { sku: 'a' } });
      await kv.put(`${prefix}/resources/inventory.count`, { timeoutMs: 50 });
      await eventually(
        async () => (await getJson(port, '/stock/a?delay=200')).status === 504,
        5000,
        'rule applied',
      );
      expect(await getJson(port, '/stock/b?delay=200')).toMatchObject({
        status: 504,
        body: { error: 'timeout', code: 'MESHLESS_TIMEOUT' },
      });

      app.child.kill('SIGTERM');
      expect(await app.exited).toEqual({ code: null, signal: 'SIGTERM' });
      expect(await registered()).toBe(false);
    } finally {
      await connection.close();
    }
  });
});
