import {
  type Clock,
  ConsulError,
  type Random,
  systemClock,
  systemRandom,
  type TimerHandle,
} from '@meshless/core';
import type { ConsulRequest, ConsulResponse } from './connection.ts';

export interface ReachabilityProbeOptions {
  /** Mean gap between probes while someone waits; each gap is jittered ±25%. Default 1 s. */
  intervalMs?: number;
  /** The probe's own time limit. Default 1 s. */
  timeoutMs?: number;
  clock?: Clock;
  random?: Random;
}

interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Longest leader answer read (an address, `"10.0.0.1:8300"`); a larger body is not an answer. */
const MAX_LEADER_BODY = 1024;

/**
 * Tells waiters when Consul answers again, so a watch in a long error backoff retries as soon as
 * the agent is back instead of sleeping out its 10 s cap. One per connection, shared by all its
 * watches: a single `GET /v1/status/leader` (no token needed; a non-empty leader means the cluster
 * answers) at most about once a second, and only while someone waits, so recovery costs no busy
 * loop and an idle or healthy connection no requests at all.
 */
export class ReachabilityProbe {
  private readonly request: (req: ConsulRequest) => Promise<ConsulResponse>;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly waiters = new Set<Waiter>();
  private readonly controller = new AbortController();
  private timer: TimerHandle | undefined;
  private probing = false;
  /** Clock time the last probe started (-Infinity: none yet). */
  private lastProbeAt = Number.NEGATIVE_INFINITY;
  private probes_ = 0;

  constructor(
    connection: { request(req: ConsulRequest): Promise<ConsulResponse> },
    options: ReachabilityProbeOptions = {},
  ) {
    this.request = (req) => connection.request(req);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.intervalMs = options.intervalMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 1000;
  }

  /** Probes sent so far. */
  get probes(): number {
    return this.probes_;
  }

  /** Waiters now. */
  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * Resolves at the first probe, after this call, that finds a leader. Rejects with the signal's
   * reason when `signal` aborts, or a ConsulError once the probe is disposed.
   */
  whenAnswering(signal?: AbortSignal): Promise<void> {
    if (this.controller.signal.aborted) return Promise.reject(this.closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          this.waiters.delete(waiter);
          reject(signal.reason);
          this.idle();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.add(waiter);
      this.schedule();
    });
  }

  /** Rejects every waiter and stops: no timer or request outlives this. Idempotent. */
  dispose(): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(this.closedError());
    this.timer?.cancel();
    this.timer = undefined;
    const error = this.closedError();
    for (const w of this.take()) w.reject(error);
  }

  private schedule(): void {
    if (this.timer || this.probing || this.waiters.size === 0 || this.controller.signal.aborted) return;
    // A gap from the last probe, or from now: a waiter has just seen a failure, so asking at once
    // would mostly repeat it, and a short backoff ends before any probe is sent.
    const gap = this.intervalMs * (0.75 + 0.5 * this.random());
    const now = this.clock.now();
    const at = Math.max(now, this.lastProbeAt) + gap;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.probe();
    }, at - now);
  }

  /** No one waits any more: nothing to probe for. */
  private idle(): void {
    if (this.waiters.size > 0) return;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private async probe(): Promise<void> {
    if (this.waiters.size === 0 || this.controller.signal.aborted) return;
    this.probing = true;
    this.lastProbeAt = this.clock.now();
    this.probes_++;
    let answering = false;
    try {
      const res = await this.request({
        path: '/v1/status/leader',
        signal: this.controller.signal,
        timeoutMs: this.timeoutMs,
      });
      answering = hasLeader(res);
    } catch {
      // unreachable, timed out or disposed: not answering
    } finally {
      this.probing = false;
    }
    if (this.controller.signal.aborted) return;
    if (answering) for (const w of this.take()) w.resolve();
    else this.schedule();
  }

  private take(): Waiter[] {
    const all = [...this.waiters];
    this.waiters.clear();
    for (const w of all) if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    return all;
  }

  private closedError(): ConsulError {
    return new ConsulError('consul connection is closed', { retryable: false });
  }
}

/** A 200 whose body is a JSON string naming a leader (`""` while the cluster has none). */
export function hasLeader(res: ConsulResponse): boolean {
  if (res.status !== 200 || res.body.length > MAX_LEADER_BODY) return false;
  try {
    const leader: unknown = JSON.parse(res.body.toString('utf8'));
    return typeof leader === 'string' && leader.length > 0;
  } catch {
    return false;
  }
}

/**
 * Whether a watch failure is one the probe can vouch for: Consul unreachable (a transport failure:
 * no status) or without a leader (503, a 500 "No cluster leader"). Not a 403, a 404 or a 500 from a
 * broken endpoint: the leader answering says nothing about those, so they keep their full backoff.
 */
export function endsWithReachability(error: unknown): boolean {
  if (!(error instanceof ConsulError) || !error.retryable) return false;
  if (error.status === undefined || error.status === 503) return true;
  return error.status === 500 && /no cluster leader/i.test(error.message);
}
