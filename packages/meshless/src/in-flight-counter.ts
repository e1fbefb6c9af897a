/**
 * Remote calls started and not yet answered, across the mesh's clients: close() waits on
 * `idle()` for the last one to end (an event, not a poll), bounded by the drain period.
 */
export class InFlightCounter {
  private active = 0;
  private waiters: (() => void)[] = [];

  get count(): number {
    return this.active;
  }

  enter(): void {
    this.active++;
  }

  leave(): void {
    if (this.active > 0) this.active--;
    if (this.active === 0 && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Resolves when no call is in flight, or after `maxMs` (a timer that holds no process open). */
  idle(maxMs: number): Promise<void> {
    if (this.active === 0 || maxMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      timer.unref();
      const waiter = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(waiter);
    });
  }
}
