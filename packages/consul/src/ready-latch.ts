import { type Clock, ConsulError, type TimerHandle } from '@meshless/core';

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
  timer: TimerHandle;
}

/**
 * The `ready(timeoutMs)` of a background source: resolves every waiter with the first value,
 * rejects each with a ConsulError at its own timeout (saying why, when the source knows) or when
 * the source is disposed. Timers are the injected clock's, cancelled when settled.
 */
export class ReadyLatch<T> {
  private value: T | undefined;
  private closed: string | undefined;
  /** Why the source cannot become ready as things stand (a denial): waiters fail at once meanwhile. */
  private refusal: string | undefined;
  private readonly waiters = new Set<Waiter<T>>();

  constructor(
    private readonly clock: Clock,
    private readonly what: string,
  ) {}

  wait(timeoutMs: number, why: () => string | undefined): Promise<T> {
    if (this.value !== undefined) return Promise.resolve(this.value);
    if (this.closed !== undefined) return Promise.reject(new ConsulError(this.closed, { retryable: false }));
    if (this.refusal !== undefined) return Promise.reject(this.refusalError(this.refusal));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          this.waiters.delete(waiter);
          const reason = why();
          reject(new ConsulError(`${this.what}: not ready in ${timeoutMs} ms${reason ? `: ${reason}` : ''}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** The first call wins; later ones are ignored. */
  open(value: T): void {
    if (this.value !== undefined || this.closed !== undefined) return;
    this.value = value;
    for (const w of this.waiters) {
      w.timer.cancel();
      w.resolve(value);
    }
    this.waiters.clear();
  }

  /**
   * A reason (a 403: no retry will help until an operator acts) rejects the waiters now, and
   * later waits at once, until `refuse(undefined)` or the first value. The source keeps trying.
   */
  refuse(reason: string | undefined): void {
    if (this.value !== undefined || this.closed !== undefined) return;
    this.refusal = reason;
    if (reason === undefined) return;
    for (const w of this.waiters) {
      w.timer.cancel();
      w.reject(this.refusalError(reason));
    }
    this.waiters.clear();
  }

  private refusalError(reason: string): ConsulError {
    return new ConsulError(`${this.what}: ${reason}`, { retryable: false });
  }

  /** Rejects the waiters (dispose before the first value). */
  close(): void {
    if (this.value !== undefined || this.closed !== undefined) return;
    this.closed = `${this.what}: disposed before ready`;
    for (const w of this.waiters) {
      w.timer.cancel();
      w.reject(new ConsulError(this.closed, { retryable: false }));
    }
    this.waiters.clear();
  }
}
