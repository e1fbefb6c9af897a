import type { ConsulKv } from '@meshless/consul';
import { describe, expect, it } from 'vitest';
import { readServiceRollout } from './read-rollout-state.ts';
import { sampleState } from './state-fixture.ts';

/** A KV holding `value` at every key (or failing as Consul does when a token may not read it). */
function kvWith(value: string | undefined | Error) {
  const kv = {
    async get(key: string) {
      if (value instanceof Error) throw value;
      return value === undefined ? undefined : { key, value: Buffer.from(value), modifyIndex: 1, flags: 0 };
    },
  };
  return { kv: kv as unknown as ConsulKv };
}

const stored = sampleState();

describe('readServiceRollout', () => {
  it('reads the state at <prefix>/_rollout/<service>; none is undefined', async () => {
    const read = await readServiceRollout(kvWith(JSON.stringify(stored)), 'm', 'catalog');
    expect(read?.key).toBe('m/_rollout/catalog');
    expect(read?.state?.weight).toBe(10);
    expect(await readServiceRollout(kvWith(undefined), 'm', 'catalog')).toBeUndefined();
  });

  it('says why instead of throwing: unreadable, another service, a controller starting, no permission', async () => {
    const why = async (kv: ReturnType<typeof kvWith>) =>
      (await readServiceRollout(kv, 'm', 'catalog'))?.error;
    expect(await why(kvWith('{"version":1}'))).toBe('service: expected a string');
    expect(await why(kvWith(JSON.stringify({ ...stored, service: 'orders' })))).toBe(
      'service: names "orders", not catalog',
    );
    expect(await why(kvWith('{}'))).toBe('no state yet (a controller is starting)');
    expect(await why(kvWith(new Error('GET m/_rollout/catalog: HTTP 403 Permission denied')))).toBe(
      'cannot read m/_rollout/catalog: GET m/_rollout/catalog: HTTP 403 Permission denied',
    );
  });
});
