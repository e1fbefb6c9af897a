import type { Clock, TimerHandle } from '../clock.ts';

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to. Timers fire in time order during `advance()`. */
export class ManualClock implements Clock {
  private time: number;
  private readonly wallOffset: number;
  private seq = 0;
  private timers: Scheduled[] = [];

  constructor(start = 0, wallStart = Date.UTC(2026, 0, 1)) {
    this.time = start;
    this.wallOffset = wallStart - start;
  }

  readonly now = (): number => this.time;
  readonly wallNow = (): number => this.time + this.wallOffset;

  readonly setTimeout = (fn: () => void, ms: number): TimerHandle => {
    const timer: Scheduled = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  };

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: Scheduled | undefined;
      for (const t of this.timers) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.time = next.at;
      next.cancelled = true;
      next.fn();
    }
    this.time = target;
  }

  /** Sets the time (forward only), firing timers on the way. */
  set(time: number): void {
    if (time < this.time) throw new RangeError('ManualClock cannot go backwards');
    this.advance(time - this.time);
  }
}
