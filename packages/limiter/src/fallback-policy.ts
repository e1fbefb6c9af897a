import {
  contextFor,
  type Disposable,
  Emitter,
  type Event,
  type ExecuteContext,
  isThenable,
  MeshlessError,
  neverAborted,
  type Policy,
} from '@meshless/core';

/** Which failures the fallback answers. */
export type FallbackOn = 'all' | 'meshless';

export interface FallbackOptions<F> {
  /** The value to answer with, or a function of the failure (the cause) that returns one. */
  fallback: F | ((cause: unknown) => F | PromiseLike<F>);
  /**
   * 'all': any failure. 'meshless': only MeshlessError (open circuit, timeout, full bulkhead,
   * rate limit, ...); errors of the work itself pass through. Default 'all'.
   */
  on?: FallbackOn;
  /** Named in events. Default 'fallback'. */
  resource?: string;
}

export interface FallbackEvent {
  readonly resource: string;
  readonly cause: unknown;
}

/**
 * Answers a failed call with a fallback value. Outermost in a stack, so it also covers
 * rejections by the limits inside it. A caller whose own signal aborted gets the error, not a
 * value: it asked to stop. The value must fit the type the caller expects; the Policy interface
 * cannot check that.
 */
export class FallbackPolicy<F = unknown> implements Policy, Disposable {
  readonly resource: string;
  private readonly fallback: F | ((cause: unknown) => F | PromiseLike<F>);
  private readonly on: FallbackOn;
  private readonly used = new Emitter<FallbackEvent>();

  /** Fires each time the fallback answers, with the failure it replaced. */
  readonly onDidFallback: Event<FallbackEvent> = this.used.event;

  constructor(options: FallbackOptions<F>) {
    this.fallback = options.fallback;
    this.on = options.on ?? 'all';
    this.resource = options.resource ?? 'fallback';
  }

  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    const live = signal === undefined || signal === neverAborted ? undefined : signal;
    let result: PromiseLike<T> | T;
    try {
      result = fn(contextFor(signal));
    } catch (error) {
      try {
        return Promise.resolve(this.recover(error, live) as T | PromiseLike<T>);
      } catch (rethrown) {
        return Promise.reject(rethrown);
      }
    }
    if (!isThenable(result)) return Promise.resolve(result);
    const handler = live ? (error: unknown) => this.recover(error, live) : this.onRejected;
    return Promise.resolve(result).then(undefined, handler as (error: unknown) => T | PromiseLike<T>);
  }

  dispose(): void {
    this.used.dispose();
  }

  private readonly onRejected = (error: unknown): F | PromiseLike<F> => this.recover(error, undefined);

  /** The fallback's answer for `error`, or throws `error` when the fallback does not apply. */
  private recover(error: unknown, signal: AbortSignal | undefined): F | PromiseLike<F> {
    if (signal?.aborted) throw error;
    if (this.on === 'meshless' && !MeshlessError.isInstance(error)) throw error;
    if (this.used.hasListeners) this.used.fire({ resource: this.resource, cause: error });
    const fallback = this.fallback;
    return typeof fallback === 'function'
      ? (fallback as (cause: unknown) => F | PromiseLike<F>)(error)
      : fallback;
  }
}
