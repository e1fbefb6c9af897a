import type { MeshClient } from 'meshless';

export interface PacedCalls {
  /** Calls answered 2xx so far. */
  readonly ok: number;
  /** Calls that threw or were answered otherwise, with what happened (the first 20). */
  readonly failed: number;
  readonly failures: readonly string[];
  /** Ends the stream and waits for the calls in flight. */
  stop(): Promise<void>;
}

/**
 * A bounded, paced stream of governed calls: `workers` loops, each a call then a `gapMs` pause,
 * until stop() or `max` calls in all (so a test that forgets to stop still ends).
 */
export function pacedCalls(
  client: MeshClient,
  options: { workers?: number; gapMs?: number; max?: number; path?: string } = {},
): PacedCalls {
  const { workers = 2, gapMs = 10, max = 20_000, path = '/item' } = options;
  const state = { ok: 0, failed: 0, failures: [] as string[] };
  let stopped = false;
  const note = (what: string) => {
    state.failed++;
    if (state.failures.length < 20) state.failures.push(what);
  };
  const worker = async () => {
    while (!stopped && state.ok + state.failed < max) {
      try {
        const res = await client.fetch(path, { signal: AbortSignal.timeout(5000) });
        const body = await res.text();
        if (res.ok) state.ok++;
        else note(`${res.status} ${body.slice(0, 120)}`);
      } catch (error) {
        note(`${(error as { code?: string }).code ?? 'error'} ${(error as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, gapMs));
    }
  };
  const running = Promise.all(Array.from({ length: workers }, worker));
  return {
    get ok() {
      return state.ok;
    },
    get failed() {
      return state.failed;
    },
    get failures() {
      return state.failures;
    },
    async stop() {
      stopped = true;
      await running;
    },
  };
}
