import { describe, expect, it } from 'vitest';
import type { MeshClient } from './client/mesh-client.ts';
import { MeshDispatchers } from './mesh-dispatchers.ts';

const noClient = (): MeshClient => {
  throw new Error('no client in this test');
};

describe('MeshDispatchers', () => {
  it('hands out one shared dispatcher without options and a new one with options', async () => {
    const dispatchers = new MeshDispatchers(noClient);
    const shared = dispatchers.dispatcher();
    expect(dispatchers.dispatcher()).toBe(shared);
    const narrowed = dispatchers.dispatcher({ services: ['catalog'] });
    expect(narrowed).not.toBe(shared);
    await dispatchers.close(0);
  });

  it('refuses new dispatchers once closed, and closing twice is harmless', async () => {
    const dispatchers = new MeshDispatchers(noClient);
    dispatchers.dispatcher();
    await dispatchers.close(0);
    await dispatchers.close(0);
    expect(() => dispatchers.dispatcher()).toThrow(/closed/);
  });
});
