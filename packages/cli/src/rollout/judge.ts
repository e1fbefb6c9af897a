import type { LatencyHistogram, SubsetWindow } from 'meshless/contract';
import {
  binomialUpperTail,
  errorShareLogLikelihoodRatio,
  fisherOneSided,
  histogramCount,
  histogramQuantile,
  latencyScale,
  latencyShiftLogLikelihoodRatio,
  latencyShiftWeights,
  rateDifferenceUpperBound,
  sameBuckets,
} from './statistics.ts';

/** How the canary is judged against the stable subset (docs/operators-guide.md, "Rollouts"). */
export interface JudgeOptions {
  /** Requests each subset must have in the window before anything but a clear SLO breach is decided. Default 50. */
  readonly minRequests: number;
  /** Significance of the absolute error SLO's binomial test, per evaluation. Default 0.001. */
  readonly alpha: number;
  /**
   * Bound on a false rollback by errors per step, however often the step is judged: the canary
   * rolls back once the sequential test's likelihood ratio (statistics.ts) reaches 1/sequentialAlpha
   * on the step's cumulative counts. Default 0.001 (4 canary errors and none on stable at 10 %).
   */
  readonly sequentialAlpha: number;
  /** The alternative the sequential test weighs: the canary failing this many times as often as stable. Default 50. */
  readonly sequentialRatio: number;
  /** The canary's error rate must also exceed stable's by this many percentage points to roll back. Default 1. */
  readonly errorMarginPercent: number;
  /**
   * Promote only once the canary is shown no worse than stable by more than the margin: the upper
   * bound of (canary - stable error rate) at this confidence is below `errorMarginPercent`. Default 0.9.
   */
  readonly promoteConfidence: number;
  /**
   * Canary p95 (and p99) above this multiple of stable's rolls back. The sequential latency test
   * weighs "the canary this many times slower" too, and rolls back before the p95 has its samples
   * once its median is this many times stable's. Default 2.
   */
  readonly latencyRatio: number;
  /**
   * Bound on a false rollback by the sequential latency test per step, however often it looks
   * (statistics.ts latencyShiftLogLikelihoodRatio). Default 0.001; with the error test's, a step's
   * false-rollback chance is at most sequentialAlpha + latencyAlpha.
   */
  readonly latencyAlpha: number;
  /**
   * Canary observations the sequential latency test needs before its median is trusted to show
   * the size of a slowdown (with 2 or 3, a canary a little slower can look twice as slow). Default 10.
   */
  readonly latencyMinSamples: number;
  /**
   * How strongly the canary's latencies must favour "latencyRatio times slower than stable, or
   * more" over "√latencyRatio times slower, or less" (a likelihood ratio) before the sequential latency test rolls
   * back: the test finds a difference, this sizes it. Default 100.
   */
  readonly latencySizeEvidence: number;
  /** Latency differences below this many ms never roll back (bucket resolution, timer noise). Default 5. */
  readonly latencyFloorMs: number;
  /** Observations each subset needs before p95 is compared; p99 needs 4x as many. Default 50. */
  readonly minLatencyCount: number;
  /** Absolute SLO: canary error rate, percent. Default none. */
  readonly maxErrorPercent?: number | undefined;
  /** Absolute SLO: canary p99, ms. Default none. */
  readonly maxP99Ms?: number | undefined;
}

export const DEFAULT_JUDGE: JudgeOptions = {
  minRequests: 50,
  alpha: 0.001,
  sequentialAlpha: 0.001,
  sequentialRatio: 50,
  errorMarginPercent: 1,
  promoteConfidence: 0.9,
  latencyRatio: 2,
  latencyAlpha: 0.001,
  latencyMinSamples: 10,
  latencySizeEvidence: 100,
  latencyFloorMs: 5,
  minLatencyCount: 50,
};

export interface SubsetFigures {
  readonly requests: number;
  readonly errors: number;
  readonly errorPercent: number;
  readonly p50Ms: number | undefined;
  readonly p95Ms: number | undefined;
  readonly p99Ms: number | undefined;
  readonly latencyCount: number;
}

export type Decision = 'promote' | 'hold' | 'rollback';

export interface Verdict {
  readonly decision: Decision;
  /** One line, for people: why. */
  readonly reason: string;
  readonly canary: SubsetFigures;
  readonly stable: SubsetFigures;
  /** Fisher's one-sided p-value for "canary fails more than stable" (reported; one window, one look). */
  readonly errorPValue: number;
  /** ln of the sequential test's likelihood ratio (rolls back at ln(1/sequentialAlpha)). */
  readonly errorLogLr: number;
  /** Upper bound (at promoteConfidence) of canary minus stable error rate, percentage points. */
  readonly errorDiffUpperPercent: number;
  /** ln of the sequential latency test's likelihood ratio (0 without a baseline); rolls back at ln(1/latencyAlpha). */
  readonly latencyLogLr: number;
}

const EMPTY: SubsetWindow = { subset: '', requests: 0, errors: 0, latency: { bounds: [], counts: [] } };

function figures(w: SubsetWindow): SubsetFigures {
  const requests = clean(w.requests);
  const errors = Math.min(clean(w.errors), requests);
  return {
    requests,
    errors,
    errorPercent: requests === 0 ? 0 : (100 * errors) / requests,
    p50Ms: histogramQuantile(w.latency, 0.5),
    p95Ms: histogramQuantile(w.latency, 0.95),
    p99Ms: histogramQuantile(w.latency, 0.99),
    latencyCount: histogramCount(w.latency),
  };
}

/** Counts from a source are untrusted: non-finite or negative reads as 0. */
function clean(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/**
 * Canary vs stable over the same window. Order: absolute SLO breaches (with evidence: the error
 * SLO by a one-sided binomial test at `alpha`), then the sequential error test (plus the margin),
 * then the sequential latency test (plus the median ratio), then too few samples (hold), then the
 * promotion bound (hold until the canary is shown within the margin), then latency ratios; promote
 * when nothing objects. `baseline` is stable's latency from before the step's window (the
 * controller passes the previous step's, or a reading taken before the first weight write): it
 * shapes the sequential latency test, which is off without it.
 */
export function judge(
  windows: readonly SubsetWindow[],
  canarySubset: string,
  stableSubset: string,
  options: JudgeOptions = DEFAULT_JUDGE,
  baseline?: LatencyHistogram,
): Verdict {
  const canaryWindow = windows.find((w) => w.subset === canarySubset) ?? EMPTY;
  const stableWindow = windows.find((w) => w.subset === stableSubset) ?? EMPTY;
  const canary = figures(canaryWindow);
  const stable = figures(stableWindow);
  const weights =
    baseline && sameBuckets(baseline, canaryWindow.latency) && sameBuckets(baseline, stableWindow.latency)
      ? latencyShiftWeights(baseline, options.latencyRatio)
      : undefined;
  const latencyLogLr = weights
    ? latencyShiftLogLikelihoodRatio(canaryWindow.latency, stableWindow.latency, weights)
    : 0;
  const errorPValue = fisherOneSided(canary.errors, canary.requests, stable.errors, stable.requests);
  const share = canary.requests / (canary.requests + stable.requests);
  const errorLogLr = errorShareLogLikelihoodRatio(
    canary.errors,
    stable.errors,
    share,
    options.sequentialRatio,
  );
  const errorDiffUpperPercent =
    100 *
    rateDifferenceUpperBound(
      canary.errors,
      canary.requests,
      stable.errors,
      stable.requests,
      options.promoteConfidence,
    );
  const verdict = (decision: Decision, reason: string): Verdict => ({
    decision,
    reason,
    canary,
    stable,
    errorPValue,
    errorDiffUpperPercent,
    errorLogLr,
    latencyLogLr,
  });

  if (options.maxErrorPercent !== undefined && canary.requests > 0) {
    const slo = options.maxErrorPercent / 100;
    const p = binomialUpperTail(canary.errors, canary.requests, slo);
    if (canary.errorPercent > options.maxErrorPercent && p < options.alpha) {
      return verdict(
        'rollback',
        `canary error rate ${pct(canary.errorPercent)} above the SLO ${pct(options.maxErrorPercent)} (p=${fmtP(p)})`,
      );
    }
  }
  if (
    options.maxP99Ms !== undefined &&
    canary.p99Ms !== undefined &&
    canary.latencyCount >= 4 * options.minLatencyCount &&
    canary.p99Ms > options.maxP99Ms
  ) {
    return verdict('rollback', `canary p99 ${ms(canary.p99Ms)} above the SLO ${ms(options.maxP99Ms)}`);
  }
  // The sequential test keeps its error rate without a minimum sample (it is valid at every
  // look), so it may roll back before minRequests; the margin still applies.
  if (
    errorLogLr >= Math.log(1 / options.sequentialAlpha) &&
    canary.errorPercent - stable.errorPercent >= options.errorMarginPercent
  ) {
    return verdict(
      'rollback',
      `canary errors ${pct(canary.errorPercent)} vs stable ${pct(stable.errorPercent)} (${canary.errors} vs ${stable.errors}; sequential LR ${fmtLr(errorLogLr)} >= ${fmtLr(Math.log(1 / options.sequentialAlpha))})`,
    );
  }
  // Valid at every look like the error test. The test finds a difference; its size is weighed
  // against stable's current window (bucket-aware), so a canary a little slower is left to the
  // p95/p99 comparison once it has its samples.
  if (
    latencyLogLr >= Math.log(1 / options.latencyAlpha) &&
    canary.latencyCount >= options.latencyMinSamples
  ) {
    const size = latencyScale(
      canaryWindow.latency,
      stableWindow.latency,
      options.latencyRatio,
      Math.sqrt(options.latencyRatio),
    );
    if (
      size !== undefined &&
      canary.p50Ms !== undefined &&
      stable.p50Ms !== undefined &&
      size.logLr >= Math.log(options.latencySizeEvidence) &&
      canary.p50Ms - stable.p50Ms > options.latencyFloorMs
    ) {
      return verdict(
        'rollback',
        `canary about ${Number(size.estimate.toFixed(2))}x slower than stable (${options.latencyRatio}x or more over ${Number(Math.sqrt(options.latencyRatio).toFixed(2))}x or less by ${fmtLr(size.logLr)}; p50 ${ms(canary.p50Ms)} vs ${ms(stable.p50Ms)}, ${canary.latencyCount} vs ${stable.latencyCount} samples, sequential LR ${fmtLr(latencyLogLr)} >= ${fmtLr(Math.log(1 / options.latencyAlpha))})`,
      );
    }
  }
  if (canary.requests < options.minRequests || stable.requests < options.minRequests) {
    return verdict(
      'hold',
      `not enough requests yet (canary ${canary.requests}, stable ${stable.requests}, need ${options.minRequests} each)`,
    );
  }
  // Latency can object as soon as both sides have the samples, before errors allow a promotion.
  const enoughLatency =
    canary.latencyCount >= options.minLatencyCount && stable.latencyCount >= options.minLatencyCount;
  const slower = (name: string, c: number | undefined, s: number | undefined) =>
    c !== undefined &&
    s !== undefined &&
    c > options.latencyRatio * s &&
    c - s > options.latencyFloorMs &&
    `canary ${name} ${ms(c)} vs stable ${ms(s)} (more than ${options.latencyRatio}x)`;
  if (enoughLatency) {
    const p95 = slower('p95', canary.p95Ms, stable.p95Ms);
    if (p95) return verdict('rollback', p95);
    const enoughForP99 = Math.min(canary.latencyCount, stable.latencyCount) >= 4 * options.minLatencyCount;
    const p99 = enoughForP99 && slower('p99', canary.p99Ms, stable.p99Ms);
    if (p99) return verdict('rollback', p99);
  }
  if (errorDiffUpperPercent >= options.errorMarginPercent) {
    return verdict(
      'hold',
      `canary errors not yet shown within ${options.errorMarginPercent} points of stable (up to +${pct(errorDiffUpperPercent)})`,
    );
  }
  if (!enoughLatency) {
    return verdict(
      'hold',
      `not enough latency samples yet (canary ${canary.latencyCount}, stable ${stable.latencyCount}, need ${options.minLatencyCount} each)`,
    );
  }
  return verdict('promote', 'canary within bounds');
}

/** `canary 312 req 0.3% err p95 12ms p99 20ms; stable ...; p=0.41`: the figures of a verdict, one line. */
export function describeFigures(v: Verdict): string {
  const one = (name: string, f: SubsetFigures) =>
    `${name} ${f.requests} req ${pct(f.errorPercent)} err p50 ${ms(f.p50Ms)} p95 ${ms(f.p95Ms)} p99 ${ms(f.p99Ms)}`;
  return `${one('canary', v.canary)}; ${one('stable', v.stable)}; errors p=${fmtP(v.errorPValue)} LR ${fmtLr(v.errorLogLr)}, diff <= +${pct(v.errorDiffUpperPercent)}; latency LR ${fmtLr(v.latencyLogLr)}`;
}

function pct(n: number): string {
  return `${Number(n.toFixed(2))}%`;
}

function ms(n: number | undefined): string {
  return n === undefined ? '-' : `${Number(n.toFixed(1))}ms`;
}

function fmtLr(logLr: number): string {
  const v = Math.exp(Math.min(logLr, 700));
  return v >= 1e4 ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

function fmtP(p: number): string {
  return p < 0.0001 ? p.toExponential(1) : String(Number(p.toFixed(4)));
}
