import type { Clock, ExecuteContext } from '@meshless/core';

/**
 * Runs one attempt with its own AbortSignal, which follows `parent` and is aborted with
 * `onExpire()`'s error after `timeoutMs`; the returned promise rejects with that error at
 * once, even if the work ignores its signal. Costs one AbortController, one unref'ed timer and
 * one parent listener, so it is used only where a per-try timeout or a deadline asks for it.
 * The link to `parent` ends when the attempt settles (no listener piles up on a long-lived
 * caller signal), so a response body read after that follows the caller's own signal only.
 */
export function runTimedAttempt<T>(
  fn: (ctx: ExecuteContext) => PromiseLike<T> | T,
  parent: AbortSignal | undefined,
  attempt: number,
  timeoutMs: number,
  clock: Clock,
  onExpire: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (parent?.aborted) {
      reject(parent.reason);
      return;
    }
    const controller = new AbortController();
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      timer.cancel();
      parent?.removeEventListener('abort', onParentAbort);
      return true;
    };
    const onParentAbort = (): void => {
      if (!finish()) return;
      controller.abort(parent!.reason);
      reject(parent!.reason);
    };
    const timer = clock.setTimeout(() => {
      if (!finish()) return;
      const error = onExpire();
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    parent?.addEventListener('abort', onParentAbort, { once: true });
    let pending: PromiseLike<T> | T;
    try {
      pending = fn({ signal: controller.signal, attempt });
    } catch (error) {
      pending = Promise.reject(error);
    }
    Promise.resolve(pending).then(
      (value) => {
        if (finish()) resolve(value);
      },
      (error: unknown) => {
        if (finish()) reject(error);
      },
    );
  });
}
