import { type Clock, ConfigError, systemClock } from '@meshless/core';

/** The `retry.budget` rule shape (DESIGN.md section 4). */
export interface RetryBudgetRule {
  /** Retries allowed as a share of the requests in the window, in percent (0..1000). Default 20. */
  percent?: number | undefined;
  /** Retries allowed per second on top of `percent`, so a quiet service can still retry. Default 10. */
  minPerSecond?: number | undefined;
}

export interface RetryBudgetOptions extends RetryBudgetRule {
  /** Length of the sliding window, ms. Default 10 000 (Finagle's). */
  windowMs?: number | undefined;
  /** Buckets the window slides by; the window is accurate to windowMs / buckets. Default 10. */
  buckets?: number | undefined;
  clock?: Clock | undefined;
}

export const DEFAULT_BUDGET_PERCENT = 20;
export const DEFAULT_BUDGET_MIN_PER_SECOND = 10;

/**
 * A Finagle-style retry budget: over a sliding window, retries may be at most `percent`% of
 * requests, plus a floor of `minPerSecond` x window seconds. `deposit()` once per request,
 * `tryWithdraw()` once per retry or hedge. Driven by the clock on each call, no timer.
 * Share one budget between the retry and hedge policies of a service so retries of all its
 * methods together cannot multiply its load during an outage.
 */
export class RetryBudget {
  private readonly clock: Clock;
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly deposits: Float64Array;
  private readonly withdrawals: Float64Array;
  private head: number;
  private depositTotal = 0;
  private withdrawalTotal = 0;
  private ratio = 0;
  private reserve = 0;

  constructor(options: RetryBudgetOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.windowMs = options.windowMs ?? 10_000;
    const buckets = options.buckets ?? 10;
    if (!(this.windowMs > 0)) throw new ConfigError('windowMs: must be above 0', { path: 'windowMs' });
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1000) {
      throw new ConfigError('buckets: must be an integer from 1 to 1000', { path: 'buckets' });
    }
    this.bucketMs = this.windowMs / buckets;
    this.deposits = new Float64Array(buckets);
    this.withdrawals = new Float64Array(buckets);
    this.head = Math.floor(this.clock.now() / this.bucketMs);
    this.reconfigure(options);
  }

  /** Applies new shares; the counts in the window stay. */
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
    this.reserve = Math.floor((minPerSecond * this.windowMs) / 1000);
  }

  /** Records one request (first attempts only). */
  deposit(): void {
    const slot = this.advance();
    this.deposits[slot]! += 1;
    this.depositTotal += 1;
  }

  /** Takes one retry from the budget; false (and nothing taken) when it is spent. */
  tryWithdraw(): boolean {
    const slot = this.advance();
    if (this.allowed() - this.withdrawalTotal < 1) return false;
    this.withdrawals[slot]! += 1;
    this.withdrawalTotal += 1;
    return true;
  }

  /** Whether a retry would be allowed now, without taking it. */
  canWithdraw(): boolean {
    this.advance();
    return this.allowed() - this.withdrawalTotal >= 1;
  }

  /** Retries left in the window now. */
  get available(): number {
    this.advance();
    return Math.max(0, this.allowed() - this.withdrawalTotal);
  }

  private allowed(): number {
    // Epsilon: 100 x 0.29 is 28.999999999999996 in floating point and must count as 29.
    return Math.floor(this.depositTotal * this.ratio + 1e-9) + this.reserve;
  }

  /** Expires buckets that slid out of the window; returns the current bucket's slot. */
  private advance(): number {
    const epoch = Math.floor(this.clock.now() / this.bucketMs);
    const n = this.deposits.length;
    if (epoch !== this.head) {
      if (epoch - this.head >= n || epoch < this.head) {
        this.deposits.fill(0);
        this.withdrawals.fill(0);
        this.depositTotal = 0;
        this.withdrawalTotal = 0;
      } else {
        for (let e = this.head + 1; e <= epoch; e++) {
          const slot = ((e % n) + n) % n;
          this.depositTotal -= this.deposits[slot]!;
          this.withdrawalTotal -= this.withdrawals[slot]!;
          this.deposits[slot] = 0;
          this.withdrawals[slot] = 0;
        }
      }
      this.head = epoch;
    }
    return ((epoch % n) + n) % n;
  }
}
