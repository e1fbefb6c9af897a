import { ConfigError } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { createMesh, type MeshOptions } from './mesh.ts';

/** The ConfigError createMesh rejects with, before it opens anything. */
async function rejection(options: unknown): Promise<ConfigError> {
  const error = await createMesh(options as MeshOptions).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('createMesh options', () => {
  it('rejects bad options with the field path, before connecting to anything', async () => {
    const down = { consul: { address: '127.0.0.1:1' }, cacheDir: false as const };
    expect(await rejection({ ...down, logger: 'loud' })).toMatchObject({
      path: 'logger',
      code: 'MESHLESS_INVALID_OPTION',
    });
    expect(await rejection({ ...down, logger: { warn() {} } })).toMatchObject({ path: 'logger' });
    expect(await rejection({ ...down, logger: 'silent', datacenters: 'east' })).toMatchObject({
      path: 'datacenters',
    });
    expect(await rejection({ ...down, logger: 'silent', datacenters: ['east', ''] })).toMatchObject({
      path: 'datacenters[1]',
    });
    expect(await rejection({ ...down, logger: 'silent', prefix: '//' })).toMatchObject({ path: 'prefix' });
    expect(await rejection({ ...down, logger: 'silent', rulesStaleReads: 'yes' })).toMatchObject({
      path: 'rulesStaleReads',
    });
    expect(await rejection({ ...down, logger: 'silent', discovery: { thread: 'gpu' } })).toMatchObject({
      path: 'discovery.thread',
    });
    expect(await rejection({ ...down, logger: 'silent', discovery: { offThreadAbove: -1 } })).toMatchObject({
      path: 'discovery.offThreadAbove',
    });
    expect(await rejection({ ...down, logger: 'silent', rulesDatacenter: ' ' })).toMatchObject({
      path: 'rulesDatacenter',
    });
    expect(await rejection({ ...down, logger: 'silent', service: { name: 'x', port: 70000 } })).toMatchObject(
      {
        path: 'service.port',
      },
    );
    expect(await rejection({ ...down, logger: 'silent', http: { connectionsPerEndpoint: 0 } })).toMatchObject(
      {
        path: 'http.connectionsPerEndpoint',
      },
    );
    expect(await rejection({ ...down, logger: 'silent', http: { keepAliveMs: 1.5 } })).toMatchObject({
      path: 'http.keepAliveMs',
    });
    const svc = { name: 'x', port: 8080 };
    expect(
      await rejection({ ...down, logger: 'silent', service: { ...svc, shutdownGraceMs: Infinity } }),
    ).toMatchObject({ path: 'service.shutdownGraceMs' });
    expect(
      await rejection({ ...down, logger: 'silent', service: { ...svc, metricsPath: 'metrics' } }),
    ).toMatchObject({ path: 'service.metricsPath' });
    expect(
      await rejection({ ...down, logger: 'silent', service: { ...svc, readinessPath: 'ready' } }),
    ).toMatchObject({ path: 'service.readinessPath' });
    expect(await rejection({ logger: 'silent', consul: { address: 'not a host:::' } })).toMatchObject({
      path: 'consul.address',
    });
  });

  it('rejects an unknown option as an unknown rule field is: at its object, with the nearest known one', async () => {
    const down = { consul: { address: '127.0.0.1:1' }, cacheDir: false as const, logger: 'silent' };
    const typo = await rejection({ ...down, cacheDri: false });
    expect(typo).toMatchObject({ path: '', code: 'MESHLESS_INVALID_OPTION' });
    expect(typo.message).toBe('unknown field "cacheDri" (did you mean "cacheDir"?)');
    expect(await rejection({ ...down, propagte: ['x-tenant'] })).toMatchObject({
      path: '',
      message: expect.stringMatching(/^unknown field "propagte"/),
    });
    const nested = await rejection({ ...down, service: { name: 'x', port: 8080, draimMs: 0 } });
    expect(nested).toMatchObject({ path: 'service' });
    expect(nested.message).toBe('service: unknown field "draimMs" (did you mean "drainMs"?)');
    expect(await rejection({ ...down, http: { keepAlive: 1000 } })).toMatchObject({
      path: 'http',
      message: 'http: unknown field "keepAlive" (did you mean "keepAliveMs"?)',
    });
  });
});
