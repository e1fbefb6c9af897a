import { performance } from 'node:perf_hooks';
import { MAX_REGEX_INPUT_LENGTH } from '@meshless/canary';
import { describe, expect, it } from 'vitest';
import { startShop } from './helpers/backends.ts';
import { putApplied, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };

/** A gateway routing `x-probe` values matching `regex` to the canary, everything else to stable. */
async function gatewayWithHeaderRegex(regex: string) {
  const prefix = uniquePrefix('redos');
  const service = `probe-${prefix.slice(-8)}`;
  const { gateway, kv, client } = await startShop(
    prefix,
    service,
    [
      ['v1', 'v1-a'],
      ['v2', 'v2-a'],
    ],
    cleanup,
  );
  await putApplied(kv, gateway, `${prefix}/services/${service}/routes`, {
    subsets,
    routes: [
      { name: 'probe', match: { headers: { 'x-probe': { regex } } }, to: [{ subset: 'canary' }] },
      { name: 'default', to: [{ subset: 'stable' }] },
    ],
  });
  expect(gateway.status().rules.rejectedTotal).toBe(0);
  /** The version that answered and how long the call took (wall time: bounds the event-loop block). */
  const call = async (probe: string) => {
    const start = performance.now();
    const res = await client.fetch('/items/1', { headers: { 'x-probe': probe } });
    const ms = performance.now() - start;
    expect(res.status).toBe(200);
    return { version: ((await res.json()) as { version: string }).version, ms };
  };
  return { call };
}

describe('route regexes on a real mesh: no catastrophic backtracking', () => {
  it('answers a long adversarial header against \\w*\\w*\\w*\\w*! in milliseconds', async () => {
    const { call } = await gatewayWithHeaderRegex('\\w*\\w*\\w*\\w*!');
    // The regex still routes: a matching value goes to the canary.
    expect((await call('abc_9!')).version).toBe('v2');
    // On V8's backtracking engine 500 characters took 9-13 s of blocked event loop.
    const short = await call('a'.repeat(500));
    expect(short.version).toBe('v1');
    expect(short.ms).toBeLessThan(100);
    // Close to Node's 16 KiB header limit (the backend must still accept the request).
    const long = await call('a'.repeat(16_000));
    expect(long.version).toBe('v1');
    expect(long.ms).toBeLessThan(100);
  });

  it('does not match a header value over the regex input limit: the request falls through to the next route', async () => {
    const { call } = await gatewayWithHeaderRegex('\\w*\\w*\\w*\\w*!');
    const atLimit = `${'a'.repeat(MAX_REGEX_INPUT_LENGTH - 1)}!`;
    expect((await call(atLimit)).version).toBe('v2');
    const overLimit = `${'a'.repeat(MAX_REGEX_INPUT_LENGTH)}!`;
    expect((await call(overLimit)).version).toBe('v1');
  });
});
