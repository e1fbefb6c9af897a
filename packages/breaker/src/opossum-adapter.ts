/**
 * The only file that imports opossum (v10). What we take from it, and what we leave, and why.
 *
 * Used: opossum's rolling statistical window, `CircuitBreaker.newStatus()` (class Status). It
 * counts events in time buckets and accepts a `rotateBucketController`, an EventEmitter whose
 * `rotate` event replaces the per-breaker `setInterval` (opossum's answer to its issue #648).
 * One `BucketRotation` emits `rotate` from one unref'ed timer on the injected Clock for every
 * window attached to it, so 10,000 breakers in a registry run one timer, and tests drive the
 * windows with a ManualClock. `enableSnapshots: false` removes opossum's second interval and
 * `rollingPercentilesEnabled: false` its latency sorting. We record with `Status#increment`
 * (a counter bump, about 20 ns): every call as `fires`, a failure as `failures`, and a slow call
 * as `timeouts` (opossum's own timeout is not used, and a slow call is a soft timeout). We read
 * with `Status#window`, summing the three fields, instead of `Status#stats` (about 5.5 µs: it
 * sums every field and copies the latency arrays). The breaker checks its thresholds after every
 * outcome, but a plain success reads the window only while a failure or slow call may still be in
 * it (the policy's `mayTrip`), so a healthy endpoint's successes stay one counter bump.
 *
 * Not used, measured on Node 24 (see bench/policies-breaker-limiter.bench.ts):
 * - `CircuitBreaker#fire`: 650-860 ns per call over a raw await (a `fire` event with an args
 *   copy, a new Promise, Date.now twice, a semaphore, a setTimeout per call unless
 *   `timeout: false`, an event per outcome). That alone is the whole budget of our default stack.
 * - opossum's state machine: open -> half-open runs on a real setTimeout per open breaker and
 *   Date.now (the injected clock cannot drive it), and half-open admits a single trial call.
 *   We need several probes, a success threshold and Resilience4j's slow-call rule, so the state
 *   machine is ours (circuit-breaker-policy.ts); opossum's `errorThresholdPercentage`,
 *   `volumeThreshold`, `resetTimeout`, `allowWarmUp`, `capacity` and `timeout` do not apply.
 *
 * Cost of the shared rotation: each tick calls every attached window's `rotateBucket` (about
 * 0.25 ms per 1,000 windows), and each window holds opossum's buckets (about 2.4 KB). The
 * emitters are sharded (256 windows each) because a Status scans its emitter's listeners when it
 * subscribes; one emitter would make creating many breakers quadratic.
 */
import { EventEmitter } from 'node:events';
import { type Clock, type Disposable, systemClock, type TimerHandle } from '@meshless/core';
import CircuitBreaker from 'opossum';

/** The parts of opossum's Status we call that @types/opossum leaves out. */
interface OpossumStatus {
  readonly window: readonly { fires: number; failures: number; timeouts: number }[];
  increment(property: 'fires' | 'failures' | 'timeouts', latencyMs?: number): void;
  shutdown(): void;
}

/** Ticks after a stall (a blocked event loop) are replayed up to this many times. */
const MAX_CATCH_UP_TICKS = 10;

/**
 * Windows per emitter. opossum's Status checks `listenerCount('rotate', fn)` when it subscribes,
 * a scan of every listener, so one emitter for 10,000 windows would make creation quadratic.
 */
const SHARD_SIZE = 256;

interface Shard {
  readonly emitter: EventEmitter;
  size: number;
}

export interface BucketRotationOptions {
  clock?: Clock;
  /** Width of one window bucket, ms. Default 1000. */
  bucketMs?: number;
}

/**
 * One timer that rotates the buckets of every window attached to it (through opossum's
 * `rotateBucketController` emitters, sharded). The timer runs only while at least one window
 * is attached, and is unref'ed (through the Clock).
 */
export class BucketRotation implements Disposable {
  private readonly clock: Clock;
  private readonly shards: Shard[] = [];
  private width: number;
  private attached = 0;
  private timer: TimerHandle | undefined;
  private nextAt = 0;
  private disposed = false;
  private rotations = 0;

  constructor(options: BucketRotationOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.width = checkBucketMs(options.bucketMs ?? 1000);
  }

  get bucketMs(): number {
    return this.width;
  }

  /** Whether the timer is armed (for status and tests). */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Windows attached now. */
  get size(): number {
    return this.attached;
  }

  /** @internal Rotations so far: a window's sums stay valid while this has not changed. */
  get generation(): number {
    return this.rotations;
  }

  /** Changes the bucket width from the next tick on (windows keep their bucket counts). */
  setBucketMs(ms: number): void {
    this.width = checkBucketMs(ms);
    if (this.timer) {
      this.stop();
      this.start();
    }
  }

  /** @internal An emitter with room, for one window's opossum Status; pair with `detach`. */
  attach(): EventEmitter {
    let shard = this.shards.find((s) => s.size < SHARD_SIZE);
    if (!shard) {
      const emitter = new EventEmitter();
      emitter.setMaxListeners(0);
      shard = { emitter, size: 0 };
      this.shards.push(shard);
    }
    shard.size++;
    if (++this.attached === 1 && !this.disposed) this.start();
    return shard.emitter;
  }

  /** @internal Called after the window's Status unsubscribed from `emitter`. */
  detach(emitter: EventEmitter): void {
    const shard = this.shards.find((s) => s.emitter === emitter);
    if (!shard || shard.size === 0) return;
    shard.size--;
    if (--this.attached === 0) this.stop();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stop();
    this.attached = 0;
    for (const shard of this.shards) shard.emitter.removeAllListeners();
    this.shards.length = 0;
  }

  private start(): void {
    this.nextAt = this.clock.now() + this.width;
    this.timer = this.clock.setTimeout(this.tick, this.width);
  }

  private stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.disposed || this.attached === 0) return;
    const now = this.clock.now();
    let ticks = 0;
    // Catch up after a stall, so a window never holds more than its length of history.
    do {
      this.rotations++;
      for (const shard of this.shards) if (shard.size > 0) shard.emitter.emit('rotate');
      this.nextAt += this.width;
    } while (this.nextAt <= now && ++ticks < MAX_CATCH_UP_TICKS);
    if (this.nextAt <= now) this.nextAt = now + this.width;
    this.timer = this.clock.setTimeout(this.tick, this.nextAt - now);
  };
}

function checkBucketMs(ms: number): number {
  if (!Number.isFinite(ms) || ms < 1) throw new RangeError(`bucketMs must be at least 1, got ${ms}`);
  return ms;
}

export interface WindowCounts {
  /** Calls recorded in the window. */
  readonly calls: number;
  readonly failures: number;
  readonly slow: number;
}

/**
 * A rolling count of calls, failures and slow calls over about `windowMs`, kept by an opossum
 * Status rotated by a shared BucketRotation. The window spans `round(windowMs / bucketMs)`
 * buckets (at least one).
 */
export class RollingWindow implements Disposable {
  private readonly rotation: BucketRotation;
  private status: OpossumStatus;
  private emitter: EventEmitter;
  private buckets: number;
  private disposed = false;
  // Sums over the buckets, kept up to date by our own increments and recomputed after a
  // rotation, so that reading them after every outcome costs no bucket scan (Status#window
  // copies its bucket array).
  private calls = 0;
  private failures = 0;
  private slow = 0;
  private sumsAt = -1;

  constructor(rotation: BucketRotation, windowMs: number) {
    this.rotation = rotation;
    this.buckets = bucketsFor(windowMs, rotation.bucketMs);
    this.emitter = rotation.attach();
    this.status = this.createStatus(undefined);
  }

  /** A success that was not slow: the hot path, one counter bump. */
  success(): void {
    this.status.increment('fires');
    this.calls++;
  }

  record(failed: boolean, slow: boolean, latencyMs: number): void {
    const status = this.status;
    status.increment('fires');
    this.calls++;
    if (failed) {
      status.increment('failures', latencyMs);
      this.failures++;
    }
    if (slow) {
      status.increment('timeouts', latencyMs);
      this.slow++;
    }
  }

  counts(): WindowCounts {
    if (this.sumsAt !== this.rotation.generation) this.sum();
    return { calls: this.calls, failures: this.failures, slow: this.slow };
  }

  private sum(): void {
    let calls = 0;
    let failures = 0;
    let slow = 0;
    for (const b of this.status.window) {
      calls += b.fires;
      failures += b.failures;
      slow += b.timeouts;
    }
    this.calls = calls;
    this.failures = failures;
    this.slow = slow;
    this.sumsAt = this.rotation.generation;
  }

  /** Applies a new window length, keeping the counts so far (primed into the newest bucket). */
  resize(windowMs: number): void {
    const buckets = bucketsFor(windowMs, this.rotation.bucketMs);
    if (buckets === this.buckets || this.disposed) return;
    const counts = this.counts();
    this.buckets = buckets;
    this.replace(counts);
  }

  /** Forgets every count (a breaker that closes starts from a clean window). */
  reset(): void {
    if (!this.disposed) this.replace(undefined);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.status.shutdown();
    this.rotation.detach(this.emitter);
  }

  private replace(counts: WindowCounts | undefined): void {
    // shutdown() unsubscribes from the emitter; the new Status subscribes to the same one.
    this.status.shutdown();
    this.status = this.createStatus(counts);
    this.sum();
  }

  private createStatus(counts: WindowCounts | undefined): OpossumStatus {
    const status = CircuitBreaker.newStatus({
      rollingCountBuckets: this.buckets,
      rollingCountTimeout: this.buckets * this.rotation.bucketMs,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: this.emitter,
      ...(counts
        ? {
            stats: {
              fires: counts.calls,
              failures: counts.failures,
              timeouts: counts.slow,
            } as CircuitBreaker.Stats,
          }
        : {}),
    }) as unknown as OpossumStatus;
    return status;
  }
}

function bucketsFor(windowMs: number, bucketMs: number): number {
  return Math.max(1, Math.round(windowMs / bucketMs));
}
