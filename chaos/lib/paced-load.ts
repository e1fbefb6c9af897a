// Open-loop paced load: `count` calls at `rate` per second, each sent on schedule whether or not
// the earlier ones have finished (as real traffic arrives), so a fault shows up as failed calls and
// not as a slower loop. Bounded by count; each call must bound itself (a mesh timeout).

export interface PacedLoadOptions {
  rate: number;
  /** At most this many calls. */
  count: number;
  /** Stops sending early once this returns true (the scenario's fault has played out). */
  until?: () => boolean;
  /** One call: resolves true when it succeeded; a rejection or false counts as failed. */
  call: (i: number) => Promise<boolean>;
  /** Runs just before call `i` is sent (to inject a fault at an exact point of the load). */
  beforeSend?: (i: number) => void;
}

export interface PacedLoadResult {
  calls: number;
  failed: number;
  /** Failures by what they were: the error's code (or message), or 'unexpected answer'. */
  errors: Record<string, number>;
  /** When each failed call was sent, ms after the load began. */
  failedAt: number[];
  durationMs: number;
}

export async function pacedLoad(o: PacedLoadOptions): Promise<PacedLoadResult> {
  const result: PacedLoadResult = { calls: 0, failed: 0, errors: {}, failedAt: [], durationMs: 0 };
  const fail = (sentAt: number, why: string) => {
    result.failed++;
    result.failedAt.push(Math.round(sentAt));
    result.errors[why] = (result.errors[why] ?? 0) + 1;
  };
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < o.count; i++) {
    const wait = start + (i * 1000) / o.rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (o.until?.()) break;
    o.beforeSend?.(i);
    const sentAt = performance.now() - start;
    result.calls++;
    pending.push(
      o.call(i).then(
        (ok) => {
          if (!ok) fail(sentAt, 'unexpected answer');
        },
        (error: unknown) => {
          const e = error as { code?: unknown; message?: unknown };
          fail(sentAt, String(e.code ?? e.message ?? error));
        },
      ),
    );
  }
  await Promise.all(pending);
  result.durationMs = performance.now() - start;
  return result;
}

/** A GET (even i) or a POST (odd i) through `fetch`, true on 200 with the body read. */
export function mixedCall(
  fetch: (path: string, init?: { method?: string; body?: string }) => Promise<Response>,
): (i: number) => Promise<boolean> {
  return async (i) => {
    const init = i % 2 === 0 ? {} : { method: 'POST', body: JSON.stringify({ i }) };
    const res = await fetch(`/items/${i}`, init);
    await res.arrayBuffer();
    return res.status === 200;
  };
}

/** "3 of 600 (2 MESHLESS_TIMEOUT, 1 MESHLESS_CONNECTION_RESET)": for a check's measured column. */
export function failedOf(r: PacedLoadResult): string {
  const why = Object.entries(r.errors).map(([code, n]) => `${n} ${code}`);
  return `${r.failed} of ${r.calls}${why.length ? ` (${why.join(', ')})` : ''}`;
}
