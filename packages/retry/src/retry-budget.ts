import { type Clock, ConfigError, systemClock } from '@meshless/core';
import { ReserveTokens } from './reserve-tokens.ts';

/** The `retry.budget` rule shape (DESIGN.md section 4). */
export interface RetryBudgetRule {
  /** Each request deposits percent/100 of a retry, spendable for the window (0..1000). Default 20. */
  percent?: number | undefined;
  /**
   * The reserve on top of `percent`, so a quiet service can still retry: this many retries, each
   * back one second after it was spent. Default 10.
   */
  minPerSecond?: number | undefined;
}

export interface RetryBudgetOptions extends RetryBudgetRule {
  /** How long a deposit can be spent, ms. Default 10 000 (Finagle's). */
  windowMs?: number | undefined;
  /** Buckets the window slides by; the window is accurate to windowMs / buckets. Default 10. */
  buckets?: number | undefined;
  clock?: Clock | undefined;
}

export const DEFAULT_BUDGET_PERCENT = 20;
export const DEFAULT_BUDGET_MIN_PER_SECOND = 10;

/** Whole tokens despite floating point: 100 x 0.29 is 28.999999999999996 and must count as 29. */
const EPSILON = 1e-9;

/**
 * A Finagle-style retry budget, as a token bucket: each request deposits `percent`/100 of a
 * token, each retry (or hedge) withdraws one, paid from the oldest deposits first. Deposits
 * expire after a sliding window (10 s) so an idle budget does not hoard; a withdrawal is gone
 * for good (it does not come back when its deposit expires, so nothing bursts once per window).
 * On top, a reserve of `minPerSecond` tokens, each back one second after it was spent
 * (ReserveTokens): the reserve refills continuously and adds at most `minPerSecond` retries in
 * any second. A retry is paid from the deposits first, then from the reserve. Over a long outage
 * retries converge to `percent`% of requests plus `minPerSecond` per second.
 *
 * `deposit()` once per request, `tryWithdraw()` once per retry or hedge. Driven by the clock on
 * each call, no timer. Share one budget between the retry and hedge policies of a service so
 * that together they cannot multiply its load during an outage.
 */
export class RetryBudget {
  private readonly clock: Clock;
  private readonly bucketMs: number;
  /** Requests per bucket of the window (a ring; `head` is the newest bucket's epoch). */
  private readonly requests: Float64Array;
  /** Tokens withdrawn from each bucket's deposits. */
  private readonly spent: Float64Array;
  private readonly reserve: ReserveTokens;
  private head: number;
  private ratio = 0;

  constructor(options: RetryBudgetOptions = {}) {
    this.clock = options.clock ?? systemClock;
    const windowMs = options.windowMs ?? 10_000;
    const buckets = options.buckets ?? 10;
    if (!(windowMs > 0)) throw new ConfigError('windowMs: must be above 0', { path: 'windowMs' });
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1000) {
      throw new ConfigError('buckets: must be an integer from 1 to 1000', { path: 'buckets' });
    }
    this.bucketMs = windowMs / buckets;
    this.requests = new Float64Array(buckets);
    this.spent = new Float64Array(buckets);
    this.head = Math.floor(this.clock.now() / this.bucketMs);
    this.reserve = new ReserveTokens(0);
    this.reconfigure(options);
  }

  /** Applies new shares to the requests in the window; the reserve's spent tokens stay spent. */
  reconfigure(rule: RetryBudgetRule): void {
    const percent = rule.percent ?? DEFAULT_BUDGET_PERCENT;
    const minPerSecond = rule.minPerSecond ?? DEFAULT_BUDGET_MIN_PER_SECOND;
    if (!(percent >= 0 && percent <= 1000)) {
      throw new ConfigError('percent: must be from 0 to 1000', { path: 'percent' });
    }
    if (!(minPerSecond >= 0 && Number.isFinite(minPerSecond))) {
      throw new ConfigError('minPerSecond: must be 0 or more', { path: 'minPerSecond' });
    }
    this.ratio = percent / 100;
    this.reserve.reconfigure(minPerSecond);
  }

  /** Records one request (first attempts only). */
  deposit(): void {
    this.requests[this.advance()]! += 1;
  }

  /** Takes one retry from the budget; false (and nothing taken) when it is spent. */
  tryWithdraw(): boolean {
    const newest = this.advance();
    if (this.deposited() >= 1 - EPSILON) {
      this.spendOne(newest);
      return true;
    }
    return this.reserve.tryTake(this.clock.now());
  }

  /** Whether a retry would be allowed now, without taking it. */
  canWithdraw(): boolean {
    this.advance();
    return this.deposited() >= 1 - EPSILON || this.reserve.canTake(this.clock.now());
  }

  /** Retries left now: whole tokens of the deposits in the window, plus the reserve's tokens that are back. */
  get available(): number {
    this.advance();
    return Math.floor(this.deposited() + EPSILON) + this.reserve.available(this.clock.now());
  }

  /** Tokens of the deposits in the window not yet withdrawn. */
  private deposited(): number {
    let sum = 0;
    for (let i = 0; i < this.requests.length; i++) sum += this.left(i);
    return sum;
  }

  private left(slot: number): number {
    return Math.max(0, this.requests[slot]! * this.ratio - this.spent[slot]!);
  }

  /** Withdraws one token, oldest deposits first (they expire first). */
  private spendOne(newest: number): void {
    const n = this.requests.length;
    let due = 1;
    for (let k = 1; k <= n && due > EPSILON; k++) {
      const slot = (newest + k) % n; // newest + 1 is the oldest bucket
      const take = Math.min(this.left(slot), due);
      this.spent[slot]! += take;
      due -= take;
    }
  }

  /** Expires buckets that slid out of the window; returns the current bucket's slot. */
  private advance(): number {
    const epoch = Math.floor(this.clock.now() / this.bucketMs);
    const n = this.requests.length;
    if (epoch !== this.head) {
      if (epoch - this.head >= n || epoch < this.head) {
        this.requests.fill(0);
        this.spent.fill(0);
      } else {
        for (let e = this.head + 1; e <= epoch; e++) {
          const slot = ((e % n) + n) % n;
          this.requests[slot] = 0;
          this.spent[slot] = 0;
        }
      }
      this.head = epoch;
    }
    return ((epoch % n) + n) % n;
  }
}
