import {
  type Clock,
  contextFor,
  type Disposable,
  Emitter,
  type Event,
  type ExecuteContext,
  type Policy,
  systemClock,
} from '@meshless/core';
import { ConcurrencyLimitError } from './concurrency-limit-error.ts';
import { type EventLoopDelaySampler, eventLoopDelayMonitor } from './event-loop-delay.ts';
import { Gradient2Limit, type Gradient2Settings } from './gradient2-limit.ts';
import {
  ADAPTIVE_DEFAULTS,
  CONCURRENCY_KEYS,
  type ConcurrencyRule,
  concurrencyRuleSchema,
  parseRule,
} from './limiter-rules.ts';

export interface AdaptiveConcurrencyOptions extends Omit<ConcurrencyRule, 'max' | 'adaptive'> {
  /** Accepted so an `{ adaptive: true, ... }` rule can be passed as is. */
  adaptive?: true;
  /** Named in errors and events. Default 'concurrency'. */
  resource?: string;
  clock?: Clock;
  /**
   * Current event-loop delay in ms, asked once per window. Default: p99 of
   * `perf_hooks.monitorEventLoopDelay`, created on first use and disabled on dispose.
   */
  eventLoopDelay?: EventLoopDelaySampler;
  /** Successful calls a window needs before the limit is re-estimated. Default 10. */
  minWindowSamples?: number;
  /** Headroom added per update so the limit can grow (Netflix's queueSize). Default 4. */
  queueSize?: (limit: number) => number;
}

export interface LimitChange {
  readonly resource: string;
  readonly limit: number;
  readonly previous: number;
}

const LONG_WINDOW_SAMPLES = 600;
const defaultQueueSize = (): number => 4;

/**
 * Concurrency limit that adapts (Netflix Gradient2, see gradient2-limit.ts): it rises while
 * latency stays near its long-term average and falls when latency grows or the event loop lags
 * past `maxEventLoopDelayMs`. Over the limit, calls reject at once with ConcurrencyLimitError.
 * Successful calls are sampled; failures are not (their latency says little about queueing).
 */
export class AdaptiveConcurrencyPolicy implements Policy, Disposable {
  readonly resource: string;
  private readonly clock: Clock;
  private readonly gradient: Gradient2Limit;
  private readonly sampleDelay: EventLoopDelaySampler;
  private readonly ownMonitor: Disposable | undefined;
  private readonly minWindowSamples: number;
  private readonly queueSize: (limit: number) => number;
  private windowMs: number = ADAPTIVE_DEFAULTS.windowMs;
  private maxDelayMs: number = ADAPTIVE_DEFAULTS.maxEventLoopDelayMs;
  /** The floor of the gradient limit, read on every admission. */
  private admitLimit: number;
  private running = 0;
  private windowStart: number;
  private windowCount = 0;
  private windowRttSum = 0;
  private windowMaxInflight = 0;
  private readonly changed = new Emitter<LimitChange>();

  /** Fires when the (whole-number) limit changes. */
  readonly onDidChangeLimit: Event<LimitChange> = this.changed.event;

  constructor(options: AdaptiveConcurrencyOptions = {}) {
    this.resource = options.resource ?? 'concurrency';
    this.clock = options.clock ?? systemClock;
    this.minWindowSamples = options.minWindowSamples ?? 10;
    this.queueSize = options.queueSize ?? defaultQueueSize;
    const settings = this.resolve(options);
    this.gradient = new Gradient2Limit(settings);
    this.admitLimit = Math.floor(this.gradient.limit);
    if (options.eventLoopDelay) {
      this.sampleDelay = options.eventLoopDelay;
    } else {
      const monitor = eventLoopDelayMonitor();
      this.sampleDelay = monitor.sample;
      this.ownMonitor = monitor;
    }
    this.windowStart = this.clock.now();
  }

  /** Calls admitted now. */
  get limit(): number {
    return this.admitLimit;
  }

  /** Calls running now. */
  get inflight(): number {
    return this.running;
  }

  async execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    if (this.running >= this.admitLimit) throw new ConcurrencyLimitError(this.resource, this.admitLimit);
    const inflight = ++this.running;
    if (inflight > this.windowMaxInflight) this.windowMaxInflight = inflight;
    const start = this.clock.now();
    try {
      const value = await fn(contextFor(signal));
      this.sample(start);
      return value;
    } finally {
      this.running--;
    }
  }

  /** New bounds and tuning live; the limit so far is kept, clamped to the new bounds. */
  reconfigure(options: Omit<AdaptiveConcurrencyOptions, 'resource' | 'clock' | 'eventLoopDelay'>): void {
    this.gradient.configure(this.resolve(options));
    this.publish(this.gradient.limit);
  }

  dispose(): void {
    this.ownMonitor?.dispose();
    this.changed.dispose();
  }

  private sample(start: number): void {
    const now = this.clock.now();
    this.windowCount++;
    this.windowRttSum += now - start;
    if (now - this.windowStart < this.windowMs || this.windowCount < this.minWindowSamples) return;
    const rtt = this.windowRttSum / this.windowCount;
    const inflight = this.windowMaxInflight;
    this.windowStart = now;
    this.windowCount = 0;
    this.windowRttSum = 0;
    this.windowMaxInflight = this.running;
    const delay = this.sampleDelay();
    const pressure = delay > this.maxDelayMs ? this.maxDelayMs / delay : 1;
    this.publish(this.gradient.update(rtt, inflight, pressure));
  }

  private publish(limit: number): void {
    const next = Math.floor(limit);
    const previous = this.admitLimit;
    if (next === previous) return;
    this.admitLimit = next;
    if (this.changed.hasListeners) this.changed.fire({ resource: this.resource, limit: next, previous });
  }

  private resolve(options: Omit<ConcurrencyRule, 'max'>): Gradient2Settings {
    const rule = parseRule('concurrency', concurrencyRuleSchema, CONCURRENCY_KEYS, {
      ...options,
      adaptive: true,
    });
    this.windowMs = rule.windowMs ?? ADAPTIVE_DEFAULTS.windowMs;
    this.maxDelayMs = rule.maxEventLoopDelayMs ?? ADAPTIVE_DEFAULTS.maxEventLoopDelayMs;
    return Object.freeze({
      initialLimit: rule.initialLimit ?? ADAPTIVE_DEFAULTS.initialLimit,
      minLimit: rule.minLimit ?? ADAPTIVE_DEFAULTS.minLimit,
      maxLimit: rule.maxLimit ?? ADAPTIVE_DEFAULTS.maxLimit,
      smoothing: (rule.smoothingPercent ?? ADAPTIVE_DEFAULTS.smoothingPercent) / 100,
      rttTolerance: rule.rttTolerance ?? ADAPTIVE_DEFAULTS.rttTolerance,
      longWindow: LONG_WINDOW_SAMPLES,
      queueSize: this.queueSize,
    });
  }
}
