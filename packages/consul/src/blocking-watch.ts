import {
  bucketShape,
  type Clock,
  ConsulError,
  type Disposable,
  type Random,
  sleep,
  systemClock,
  systemRandom,
  TokenBucket,
} from '@meshless/core';
import { type ConsulConnection, type ConsulRequest, type ConsulResponse, statusError } from './connection.ts';
import { endsWithReachability } from './reachability-probe.ts';

export interface BlockingWatchOptions<T> {
  connection: ConsulConnection;
  /** API path, e.g. `/v1/kv/meshless/` or `/v1/health/service/catalog`. */
  path: string;
  query?: ConsulRequest['query'];
  /** Turns an accepted response into a value. Throwing counts as an error (with backoff). */
  parse(res: ConsulResponse): T;
  /** Called for each real change (not for wake-ups that returned the same data). */
  onChange(value: T, index: number): void;
  /** Background errors land here, never in user code. */
  onError?(error: unknown, info: { failures: number; retryInMs: number }): void;
  /** After each accepted answer, changed or not (after `onChange` when it changed). */
  onAnswer?(index: number): void;
  /** Statuses besides 2xx that carry a valid answer (KV answers 404 for an empty prefix). */
  acceptStatus?: readonly number[];
  /** Default: byte equality of the response bodies. */
  equals?(a: T, b: T): boolean;
  /** Blocking wait per request. Default 60 s, capped at Consul's 10 min. */
  waitMs?: number;
  /** Backoff after errors: equal-jitter exponential between base and max. Default 250 ms .. 10 s. */
  backoff?: { baseMs?: number; maxMs?: number };
  /**
   * End a backoff after an unreachable Consul or one without a leader early, at least `baseMs` in,
   * when the connection's shared probe sees the agent answer again (whenAnswering). Default true.
   */
  recoverEarly?: boolean;
  /** Token bucket on requests, so a loop that returns too fast cannot spin. Default 10/s, burst 20. */
  rateLimit?: { perSecond?: number; burst?: number };
  /** Read from any server, not just the leader (`?stale`): scales reads, may lag slightly. */
  stale?: boolean;
  /**
   * Re-read with `?consistent` before taking the first changed answer after a failure or an index
   * that went backwards. A cluster whose servers all restarted can answer from a leader that has
   * not replayed its log yet (no services, index 1); a consistent read waits for that leader, or
   * fails and is retried. Default false.
   */
  confirmAfterFailure?: boolean;
  clock?: Clock;
  random?: Random;
}

export interface WatchStats {
  requests: number;
  errors: number;
  changes: number;
  /** Index of the last accepted answer (0 before the first or after a reset). */
  index: number;
  /** Consecutive failures now (0 while healthy). */
  failures: number;
  lastError: string | undefined;
}

const MAX_WAIT_MS = 10 * 60_000;

/**
 * One Consul blocking query in a loop, following Consul's documented rules: reset the index when
 * it goes backwards, never block on an index <= 0, cap and jitter the wait, rate-limit a loop that
 * returns too fast, back off (capped, jittered) on errors, and emit only real changes. Stops on
 * `dispose()` (the in-flight request is aborted).
 */
export class BlockingWatch<T> implements Disposable {
  private readonly options: BlockingWatchOptions<T>;
  private readonly controller = new AbortController();
  private readonly clock: Clock;
  private readonly random: Random;
  private lastBody: Buffer | undefined;
  private lastValue: T | undefined;
  private hasValue = false;
  private readonly requests: TokenBucket;
  private readonly stats_: WatchStats = {
    requests: 0,
    errors: 0,
    changes: 0,
    index: 0,
    failures: 0,
    lastError: undefined,
  };
  /** Resolves when the loop has ended after dispose(). */
  readonly done: Promise<void>;

  constructor(options: BlockingWatchOptions<T>) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    const shape = bucketShape(options.rateLimit?.perSecond ?? 10, options.rateLimit?.burst ?? 20);
    this.requests = new TokenBucket(shape, this.clock);
    this.done = this.loop();
  }

  stats(): Readonly<WatchStats> {
    return { ...this.stats_ };
  }

  get value(): T | undefined {
    return this.lastValue;
  }

  dispose(): void {
    if (!this.controller.signal.aborted)
      this.controller.abort(new ConsulError('watch stopped', { retryable: false }));
  }

  private async loop(): Promise<void> {
    const signal = this.controller.signal;
    const waitCap = Math.min(this.options.waitMs ?? 60_000, MAX_WAIT_MS);
    const baseMs = this.options.backoff?.baseMs ?? 250;
    const maxMs = this.options.backoff?.maxMs ?? 10_000;
    const accept = this.options.acceptStatus ?? [];
    let index = 0;
    // Failed (or went backwards) since the last accepted answer.
    let recovering = false;
    while (!signal.aborted) {
      try {
        await this.requests.take(signal);
        // Jitter the wait downwards by up to 10% so a fleet started together does not wake together.
        const wait = Math.max(1000, Math.floor(waitCap * (0.9 + 0.1 * this.random())));
        const query = { ...this.options.query };
        if (this.options.stale) query.stale = true;
        if (index > 0) {
          query.index = index;
          query.wait = `${wait}ms`;
        }
        this.stats_.requests++;
        const request = {
          path: this.options.path,
          query,
          signal,
          // Consul adds up to wait/16 of jitter on its side. Of the cap, not the jittered wait: one
          // limit for every request of every watch alike, so they share the connection's deadline queue.
          timeoutMs: index > 0 ? waitCap + Math.ceil(waitCap / 16) + 5000 : 15_000,
        };
        let res = await this.options.connection.request(request);
        if ((res.status < 200 || res.status >= 300) && !accept.includes(res.status)) {
          throw statusError({ path: this.options.path }, res);
        }
        if (
          this.options.confirmAfterFailure &&
          this.hasValue &&
          (recovering || (res.index ?? 0) < index) &&
          !this.lastBody?.equals(res.body)
        ) {
          const { stale: _s, cached: _c, ...plain } = this.options.query ?? {};
          res = await this.options.connection.request({
            path: this.options.path,
            query: { ...plain, consistent: true },
            signal,
            timeoutMs: 15_000,
          });
          if ((res.status < 200 || res.status >= 300) && !accept.includes(res.status)) {
            throw statusError({ path: this.options.path }, res);
          }
        }
        recovering = false;
        const newIndex = res.index ?? 0;
        if (newIndex <= 0)
          index = 1; // never block on an index <= 0
        else if (newIndex < index)
          index = 0; // went backwards (snapshot restore, new cluster): start over
        else index = newIndex;
        this.stats_.index = index;
        this.stats_.failures = 0;
        this.deliver(res, newIndex);
        this.options.onAnswer?.(newIndex);
      } catch (error) {
        if (signal.aborted) break;
        const failures = ++this.stats_.failures;
        this.stats_.errors++;
        this.stats_.lastError = (error as Error)?.message ?? String(error);
        index = 0;
        recovering = true;
        const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 20));
        const retryInMs = Math.floor(ceiling / 2 + (this.random() * ceiling) / 2);
        try {
          this.options.onError?.(error, { failures, retryInMs });
        } catch {
          // an error handler that throws must not end the loop
        }
        try {
          if (this.options.recoverEarly !== false && endsWithReachability(error) && retryInMs > baseMs)
            await this.backoffUntilAnswering(retryInMs, baseMs, signal);
          else await sleep(retryInMs, signal, this.clock);
        } catch {
          break;
        }
      }
    }
  }

  /**
   * Sleeps `ms`, or less when Consul answers again first, but never under `floorMs`: a probe that
   * answers at once must not turn a failing request into a fast loop.
   */
  private async backoffUntilAnswering(ms: number, floorMs: number, signal: AbortSignal): Promise<void> {
    await sleep(floorMs, signal, this.clock);
    const wait = new AbortController();
    const onAbort = () => wait.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const slept = sleep(ms - floorMs, wait.signal, this.clock);
      // A probe that cannot run (the connection closed) leaves the plain backoff.
      const answered = this.options.connection.whenAnswering(wait.signal).then(undefined, () => slept);
      await Promise.race([slept, answered]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      // Whichever lost is cancelled: its timer or its place among the probe's waiters.
      wait.abort(signal.reason ?? new Error('backoff over'));
    }
    if (signal.aborted) throw signal.reason;
  }

  private deliver(res: ConsulResponse, index: number): void {
    if (this.lastBody?.equals(res.body)) return;
    const value = this.options.parse(res);
    if (this.hasValue && this.options.equals?.(this.lastValue as T, value)) {
      this.lastBody = res.body;
      return;
    }
    this.lastBody = res.body;
    this.lastValue = value;
    this.hasValue = true;
    this.stats_.changes++;
    try {
      this.options.onChange(value, index);
    } catch (error) {
      this.options.onError?.(error, { failures: 0, retryInMs: 0 });
    }
  }
}
