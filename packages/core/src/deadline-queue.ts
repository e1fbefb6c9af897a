import { type Clock, systemClock, type TimerHandle } from './clock.ts';

/**
 * One entry of a DeadlineQueue: the links are intrusive, so adding and cancelling allocate
 * nothing and take O(1). Extend it to carry what expiry acts on (the queue's `onExpire` gets
 * the entry back), or use it as is. An entry is in at most one queue at a time.
 */
export class DeadlineEntry {
  /** When the entry expires, on the queue's clock; set by `add()`. */
  deadline = 0;
  /** @internal */
  prev: DeadlineEntry | null = null;
  /** @internal */
  next: DeadlineEntry | null = null;
  /** @internal The queue the entry waits in; null once expired, cancelled, or never added. */
  owner: DeadlineQueue<DeadlineEntry> | null = null;

  /** Whether the entry is waiting in a queue (added, neither expired nor cancelled yet). */
  get queued(): boolean {
    return this.owner !== null;
  }
}

/**
 * Entries that all expire `timeoutMs` after they were added: a FIFO is then in deadline order,
 * so one timer, armed for the head, serves the whole queue (no timer per entry). Add and cancel
 * are O(1) on an intrusive linked list. Due entries expire in insertion order.
 *
 * The timer is unref'd (the Clock's timers are) and is not re-armed once the queue is empty.
 * Cancelling the head does not move the timer: it fires at the old head's deadline, finds the
 * new head not yet due and re-arms for it. That saves a timer cancel and create per call for
 * work that finishes in time, which is nearly all of it; at most one lapsed timer is left.
 */
export class DeadlineQueue<E extends DeadlineEntry = DeadlineEntry> {
  readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly onExpire: (entry: E) => void;
  private head: E | null = null;
  private tail: E | null = null;
  private count = 0;
  private timer: TimerHandle | undefined;
  private disposed = false;
  /** Set while the timer expires entries: an add from `onExpire` must not arm a second timer. */
  private firing = false;

  /**
   * `onExpire` runs for each entry whose deadline passed, in order, after the entry left the
   * queue. It must not throw; a throw is swallowed so that later entries still expire and the
   * timer never throws into the caller.
   */
  constructor(timeoutMs: number, onExpire: (entry: E) => void, clock: Clock = systemClock) {
    // Above 0, so an entry added by onExpire is never due in the same pass of the timer.
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new RangeError(`DeadlineQueue: timeoutMs must be a finite number above 0, got ${timeoutMs}`);
    }
    this.timeoutMs = timeoutMs;
    this.onExpire = onExpire;
    this.clock = clock;
  }

  /** Entries waiting. */
  get size(): number {
    return this.count;
  }

  /**
   * Queues `entry` to expire `timeoutMs` after `now` (the caller's reading of the same clock,
   * to save a read). After `dispose()` the entry is not queued: it never expires.
   */
  add(entry: E, now: number = this.clock.now()): E {
    if (entry.owner !== null) throw new Error('DeadlineQueue: entry is already queued');
    if (this.disposed) return entry;
    const tail = this.tail;
    // A stale `now` must not put the entry before its predecessor: the FIFO stays sorted.
    let deadline = now + this.timeoutMs;
    if (tail !== null && tail.deadline > deadline) deadline = tail.deadline;
    entry.deadline = deadline;
    entry.owner = this as unknown as DeadlineQueue<DeadlineEntry>;
    entry.prev = tail;
    entry.next = null;
    if (tail !== null) tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    this.count++;
    if (this.timer === undefined && !this.firing) this.arm(deadline, now);
    return entry;
  }

  /** Takes `entry` out before it expires; false if it was not in this queue (expired, cancelled). */
  cancel(entry: E): boolean {
    if (entry.owner !== (this as unknown as DeadlineQueue<DeadlineEntry>)) return false;
    this.unlink(entry);
    return true;
  }

  /** Stops the timer and drops the waiting entries without expiring them; later adds are ignored. */
  dispose(): void {
    this.disposed = true;
    this.timer?.cancel();
    this.timer = undefined;
    while (this.head !== null) this.unlink(this.head);
  }

  private unlink(entry: E): void {
    const prev = entry.prev as E | null;
    const next = entry.next as E | null;
    if (prev !== null) prev.next = next;
    else this.head = next;
    if (next !== null) next.prev = prev;
    else this.tail = prev;
    entry.prev = null;
    entry.next = null;
    entry.owner = null;
    this.count--;
  }

  private arm(at: number, now: number): void {
    this.timer = this.clock.setTimeout(this.onTimer, at > now ? at - now : 0);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    this.firing = true;
    let entry = this.head;
    while (entry !== null && entry.deadline <= now) {
      this.unlink(entry);
      try {
        this.onExpire(entry);
      } catch {
        // onExpire owns its errors (see the constructor); the queue carries on.
      }
      entry = this.head;
    }
    this.firing = false;
    if (this.head !== null && !this.disposed) this.arm(this.head.deadline, now);
  };
}
