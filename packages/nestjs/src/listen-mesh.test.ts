import type { INestApplication } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { listenMesh } from './listen-mesh.ts';

describe('listenMesh', () => {
  it('refuses a platform whose instance is not a request listener (Fastify), after init, before any server', async () => {
    const calls: string[] = [];
    const app = {
      init: async () => {
        calls.push('init');
      },
      getHttpAdapter: () => ({
        getInstance: () => ({ register() {} }),
        setHttpServer: () => calls.push('setHttpServer'),
      }),
      get: () => {
        calls.push('get');
        return undefined;
      },
    } as unknown as INestApplication;
    await expect(listenMesh(app, 0)).rejects.toThrow(TypeError);
    expect(calls).toEqual(['init']);
  });
});
