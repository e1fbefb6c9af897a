import type { Disposable } from './disposable.ts';
import type { Endpoint } from './endpoint.ts';

/** What a picker may look at for one pick. Prepared once per call, never mutated by the picker. */
export interface PickContext {
  /** Hash key for ring-hash and Maglev (a header value, cookie or explicit key). */
  readonly hashKey?: string;
  /** Endpoints to avoid (e.g. those a retry already tried); honoured while others remain. */
  readonly exclude?: ReadonlySet<string>;
}

/** An immutable snapshot that chooses an endpoint. Rebuilt on change, never mutated. */
export interface Picker {
  pick(ctx?: PickContext): Endpoint | undefined;
}

/** See CallOutcome.failure. */
export type CallFailure = 'connect' | 'reset' | 'cancelled';

/** The result of a call to an endpoint, fed back to the balancer. */
export interface CallOutcome {
  readonly latencyMs: number;
  /** false for connect errors, timeouts and 5xx. */
  readonly ok: boolean;
  readonly status?: number;
  /**
   * Why a failed call got no HTTP answer, when known: `connect`, the request never reached the
   * endpoint (refused, unreachable, connect timeout; outlier ejection counts these in a row);
   * `reset`, the connection broke before the answer; `cancelled`, the caller, a deadline or a
   * winning hedge aborted it (which says nothing against the endpoint).
   */
  readonly failure?: CallFailure;
}

/**
 * Builds pickers for a changing endpoint list and learns from outcomes. `update()` builds a
 * new picker; per-endpoint stats carry over by endpoint id.
 */
export interface Balancer extends Disposable {
  update(endpoints: readonly Endpoint[]): void;
  readonly picker: Picker;
  /** A call to `endpoint` starts (pending counts for least-request and peak-EWMA). */
  onCallStart(endpoint: Endpoint): void;
  /** A call to `endpoint` ended. */
  onCallEnd(endpoint: Endpoint, outcome: CallOutcome): void;
}
