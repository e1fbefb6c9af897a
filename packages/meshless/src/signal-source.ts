// Shared interface between the fleet-signals reader and the rollout controller (issue 16): one
// definition, exported from `meshless/contract` (types only, so it adds nothing to the module graph).

/** A latency histogram: counts per bucket; `bounds[i]` is the upper bound (ms) of bucket i; last bucket is +Inf. */
export interface LatencyHistogram {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
}

/** What one subset (version) of a target service saw over a window, from the callers' side. */
export interface SubsetWindow {
  readonly subset: string;
  readonly requests: number;
  /** Failed requests (5xx, timeouts, connect errors, no answer) — what the rollout counts as errors. */
  readonly errors: number;
  readonly latency: LatencyHistogram;
}

/** A source of per-subset signals for one target service over the last `windowMs`. */
export interface SignalSource {
  /**
   * Per-subset figures for calls to `service` (optionally only those made by `caller`) over the last
   * `windowMs` ms, ending now. Resolves with what it could read; never rejects for one bad instance.
   */
  subsetWindows(
    service: string,
    windowMs: number,
    options?: { caller?: string },
  ): Promise<readonly SubsetWindow[]>;
  /**
   * How far back, ms, this source answers at once from samples it stored (Prometheus): the rollout
   * reads stable's latency baseline over that much of the past instead of waiting. Absent or 0: a
   * window is waited out (the fleet reader, which reads live counters twice).
   */
  readonly historyMs?: number;
}
