/** Settings of the gradient limit; every value already validated. */
export interface Gradient2Settings {
  readonly initialLimit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
  /** Weight of each new estimate, 0..1. */
  readonly smoothing: number;
  /** Latency may reach this multiple of the long-term average before the limit falls. */
  readonly rttTolerance: number;
  /** Samples the long-term RTT average spans (its EWMA window). */
  readonly longWindow: number;
  /** Headroom added to the limit each update, so it can grow (Netflix: 4). */
  readonly queueSize: (limit: number) => number;
}

/** Samples the long-term average is a plain mean for, before it turns exponential. */
const WARMUP_SAMPLES = 10;

/**
 * Netflix concurrency-limits' Gradient2, without threads: the ratio of the long-term RTT
 * (an EWMA) to the short-term RTT (this window's mean) tells whether queues are building.
 *
 *   gradient = clamp(tolerance * longRtt / shortRtt, 0.5, 1)
 *   limit    = limit * (1 - smoothing) + (limit * gradient + queueSize) * smoothing
 *
 * bounded to [minLimit, maxLimit]. `pressure` (0.5..1) caps the gradient from outside: the
 * event-loop delay, which RTT alone misses when the process itself is the bottleneck. Under
 * pressure the limit also shrinks when little of it is used, and without the queueSize headroom.
 */
export class Gradient2Limit {
  private settings: Gradient2Settings;
  private estimate: number;
  private longRtt = 0;
  private samples = 0;

  constructor(settings: Gradient2Settings) {
    this.settings = settings;
    this.estimate = settings.initialLimit;
  }

  /** The current limit (fractional; admission uses the floor). */
  get limit(): number {
    return this.estimate;
  }

  /** The long-term RTT average, ms. */
  get longTermRtt(): number {
    return this.longRtt;
  }

  /** New settings; the limit so far is kept, clamped to the new bounds. */
  configure(settings: Gradient2Settings): void {
    this.settings = settings;
    this.estimate = Math.max(settings.minLimit, Math.min(settings.maxLimit, this.estimate));
  }

  /**
   * One window's measurement: mean RTT (ms), the most calls in flight during the window, and
   * the outside pressure cap. Returns the new limit.
   */
  update(rttMs: number, inflight: number, pressure = 1): number {
    const s = this.settings;
    const shortRtt = Math.max(rttMs, 1e-6);
    const longRtt = this.addLongSample(shortRtt);
    // After a long overload the average stays high; pull it down instead of waiting it out.
    if (longRtt / shortRtt > 2) this.longRtt = longRtt * 0.95;
    // Not using half the limit says nothing about the right limit: do not grow. Under outside
    // pressure shrink anyway, since the cause is not this traffic's latency.
    if (pressure >= 1 && inflight < this.estimate / 2) return this.estimate;
    const gradient = Math.max(0.5, Math.min(1, (s.rttTolerance * longRtt) / shortRtt, pressure));
    // The headroom probes for more capacity; under outside pressure there is none to find, and
    // adding it would hold the limit at 2 x queueSize / (1 - gradient) instead of minLimit.
    const headroom = pressure < 1 ? 0 : s.queueSize(this.estimate);
    let next = this.estimate * gradient + headroom;
    next = this.estimate * (1 - s.smoothing) + next * s.smoothing;
    this.estimate = Math.max(s.minLimit, Math.min(s.maxLimit, next));
    return this.estimate;
  }

  private addLongSample(rtt: number): number {
    this.samples++;
    if (this.samples <= WARMUP_SAMPLES) {
      this.longRtt += (rtt - this.longRtt) / this.samples;
    } else {
      const factor = 2 / (this.settings.longWindow + 1);
      this.longRtt = this.longRtt * (1 - factor) + rtt * factor;
    }
    return this.longRtt;
  }
}
