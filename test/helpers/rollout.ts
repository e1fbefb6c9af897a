import { type RolloutOptions, run } from '@meshless/cli';
import type { ConsulConnection, ConsulKv } from '@meshless/consul';
import type { SignalSource, SubsetWindow } from 'meshless/contract';
import { consulAddress, uniquePrefix } from './consul.ts';

// What the rollout tests on real Consul share: figures as a reader would give them, a fake signal
// source, a fresh prefix holding a routes document with the options to roll it out, and the CLI
// run in-process against that prefix.

export const WINDOW_BOUNDS = [5, 10, 20, 40, 80, 160];

/** `n` requests of `subset`, `errors` of them failed, every latency in the bucket bounded by `ms`. */
export function subsetWindow(subset: string, n: number, errors: number, ms = 10): SubsetWindow {
  const counts = WINDOW_BOUNDS.map((b) => (b === ms ? n : 0));
  return { subset, requests: n, errors, latency: { bounds: WINDOW_BOUNDS, counts: [...counts, 0] } };
}

/** Stable v1 as the tests see it: 18 000 requests, 20 failed, about 10 ms. */
export const stableWindow = () => subsetWindow('v1', 18000, 20, 10);
/** A healthy canary v2: 2 000 requests, none failed, about 10 ms. */
export const healthyCanary = () => subsetWindow('v2', 2000, 0, 10);

/** Stable's figures and the canary's from `canary()`, counting the calls in `calls.n`. */
export function fixedSource(canary: () => SubsetWindow, calls: { n: number } = { n: 0 }): SignalSource {
  return {
    async subsetWindows() {
      calls.n++;
      return [stableWindow(), canary()];
    },
  };
}

/** A fresh prefix with `routes` at `<prefix>/services/catalog/routes`, and the options to roll v2 out. */
export async function rolloutSetup(
  kv: ConsulKv,
  connection: ConsulConnection,
  name: string,
  routes: string | object,
) {
  const prefix = uniquePrefix(name);
  const key = `${prefix}/services/catalog/routes`;
  await kv.put(key, routes);
  const base = {
    connection,
    prefix,
    service: 'catalog',
    canary: 'v2',
    stable: 'v1',
    plan: [10, 50, 100],
    intervalMs: 100,
    lock: { lockDelayMs: 0 },
  } satisfies Partial<RolloutOptions>;
  /** `meshless <args> --prefix <prefix>` in-process, as the other CLI tests run it. */
  const cli = async (args: string[], signals?: SignalSource) => {
    let out = '';
    let err = '';
    const code = await run([...args, '--consul', consulAddress(), '--prefix', prefix], {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      ...(signals ? { signals: () => signals } : {}),
      env: {},
    });
    return { code, out, err };
  };
  return { prefix, key, base, cli };
}
