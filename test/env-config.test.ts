import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@meshless/consul/testing';
import type { Logger } from '@meshless/core';
import { createMesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { consulAddress, eventually, kvClient, putApplied, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// A twelve-factor app: createMesh() with no configuration in code, everything from MESHLESS_* and
// CONSUL_HTTP_* variables. The environment is passed as an object (the `env` option), so
// process.env is neither read nor changed.

const cleanup = useCleanupsAndNoUnhandledRejections();

interface HealthEntry {
  Service: { ID: string; Address: string; Port: number; Tags: string[]; Meta: Record<string, string> };
}

describe('configuration from the environment, on a real Consul', () => {
  it('registers under the name, version and zone of the environment and reads rules from its prefix', async () => {
    const name = `env-orders-${randomUUID().slice(0, 8)}`;
    const prefix = uniquePrefix('env');
    const port = await freePort();
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-env-'));
    const warnings: string[] = [];
    const noop = () => {};
    const logger: Logger = { debug: noop, info: noop, error: noop, warn: (m) => warnings.push(m) };
    const env = {
      CONSUL_HTTP_ADDR: consulAddress(),
      MESHLESS_SERVICE_NAME: name,
      MESHLESS_SERVICE_PORT: String(port),
      MESHLESS_SERVICE_ADDRESS: '127.0.0.1',
      MESHLESS_SERVICE_VERSION: 'v7',
      MESHLESS_SERVICE_ZONE: 'eu-1a',
      MESHLESS_SERVICE_TAGS: 'env,twelve-factor',
      MESHLESS_SERVICE_META: 'team=orders',
      MESHLESS_PREFIX: prefix,
      MESHLESS_CACHE_DIR: cacheDir,
      MESHLESS_SERVICE_VERSON: 'typo',
    };
    // Only a code-level thing (the logger) is passed in code.
    const mesh = await createMesh({ env, logger });
    cleanup(() => mesh.close());
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());

    let entries: HealthEntry[] = [];
    await eventually(
      async () => {
        entries = await connection.json<HealthEntry[]>({
          path: `/v1/health/service/${name}`,
          query: { passing: true },
        });
        return entries.length === 1;
      },
      5000,
      `${name} passing`,
    );
    expect(entries[0]!.Service).toMatchObject({
      ID: mesh.serviceId,
      Address: '127.0.0.1',
      Port: port,
      Tags: ['env', 'twelve-factor'],
      Meta: { version: 'v7', zone: 'eu-1a', team: 'orders' },
    });

    // Rules come from the environment's prefix: a document there is applied (and cached there).
    await putApplied(kv, mesh, `${prefix}/services/${name}/balancer`, { algorithm: 'round-robin' });
    expect(mesh.status().rules.keys.map((k) => k.key)).toContainEqual(
      expect.stringContaining(`services/${name}/balancer`),
    );
    await eventually(() => readdirSync(cacheDir).length > 0, 5000, 'a cache file in MESHLESS_CACHE_DIR');

    // A stray MESHLESS_* variable is a warning with the name meant, not an error.
    expect(warnings).toContain(
      'meshless: ignoring unknown environment variable MESHLESS_SERVICE_VERSON (did you mean MESHLESS_SERVICE_VERSION?)',
    );
  });

  it('options in code win over the environment, field by field inside service', async () => {
    const name = `env-catalog-${randomUUID().slice(0, 8)}`;
    const env = {
      CONSUL_HTTP_ADDR: consulAddress(),
      MESHLESS_SERVICE_NAME: name,
      MESHLESS_SERVICE_PORT: String(await freePort()),
      MESHLESS_SERVICE_ADDRESS: '127.0.0.1',
      MESHLESS_SERVICE_VERSION: 'v-env',
      MESHLESS_SERVICE_ZONE: 'eu-1a',
      MESHLESS_CACHE_DIR: 'false',
      MESHLESS_LOG_LEVEL: 'silent',
    };
    // Name and port come from the environment; code sets only the version.
    const mesh = await createMesh({ env, service: { version: 'v-code' } });
    cleanup(() => mesh.close());
    const { connection } = kvClient();
    cleanup(() => connection.close());
    let entries: HealthEntry[] = [];
    await eventually(
      async () => {
        entries = await connection.json<HealthEntry[]>({ path: `/v1/health/service/${name}` });
        return entries.length === 1;
      },
      5000,
      `${name} registered`,
    );
    expect(entries[0]!.Service.Meta).toMatchObject({ version: 'v-code', zone: 'eu-1a' });
  });

  it('rejects a bad value naming its variable, before registering anything', async () => {
    const env = {
      CONSUL_HTTP_ADDR: consulAddress(),
      MESHLESS_SERVICE_NAME: 'env-bad',
      MESHLESS_SERVICE_PORT: 'abc',
    };
    await expect(createMesh({ env, logger: 'silent' })).rejects.toMatchObject({
      code: 'MESHLESS_INVALID_OPTION',
      path: 'MESHLESS_SERVICE_PORT',
      message: 'MESHLESS_SERVICE_PORT: expected an integer 1-65535, got "abc"',
    });
  });
});
