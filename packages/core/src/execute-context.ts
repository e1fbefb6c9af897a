/** What a policy hands to the work it runs. One per execution, shared by the policies it passes. */
export interface ExecuteContext {
  /** Aborted when the work must stop (timeout, caller abort, hedge lost). */
  readonly signal: AbortSignal;
  /** 1 for the first try, 2 for the first retry or hedge, ... */
  readonly attempt: number;
  /** Set on a hedged attempt: why it started (`delay`: the hedge delay passed; `failure`: all running attempts failed). */
  readonly hedge?: 'delay' | 'failure';
}

// One never-aborted signal for the whole process, shared through the global symbol registry,
// so every meshless policy (also from a duplicate install) recognises "no caller signal" and
// skips listener work for it.
const KEY = Symbol.for('meshless.neverAbortedSignal');
const holder = globalThis as { [KEY]?: AbortSignal };

holder[KEY] ??= new AbortController().signal;

/** A signal that never aborts: what a policy passes on when its caller gave none. */
export const neverAborted: AbortSignal = holder[KEY];

/** The context for a first attempt without a caller signal, prepared once. */
export const firstAttempt: ExecuteContext = Object.freeze({ signal: neverAborted, attempt: 1 });

/** The context to hand the work: the prepared one unless the caller passed a live signal. */
export function contextFor(signal: AbortSignal | undefined): ExecuteContext {
  return signal === undefined || signal === neverAborted ? firstAttempt : { signal, attempt: 1 };
}

/** Whether a value can be awaited (a Promise or another thenable). */
export function isThenable<T>(value: PromiseLike<T> | T): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
