import type { LatencyHistogram } from 'meshless/contract';

// Exact tail probabilities for the rollout judge. Both walk the probability mass function by its
// ratio recurrence from the observed value outward, stopping once terms no longer move the sum, so
// the cost is bounded by the counts and usually a few dozen steps.

const MAX_TERMS = 1_000_000;

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/**
 * One-sided Fisher's exact test: the probability, if canary and stable fail at the same rate, that
 * the canary gets at least `canaryErrors` of all the errors seen (the hypergeometric upper tail).
 * Small means "the canary fails more than chance explains".
 */
export function fisherOneSided(
  canaryErrors: number,
  canaryRequests: number,
  stableErrors: number,
  stableRequests: number,
): number {
  const total = canaryRequests + stableRequests;
  const errors = canaryErrors + stableErrors;
  const draws = canaryRequests;
  const lo = Math.max(0, draws + errors - total);
  const hi = Math.min(errors, draws);
  const a = Math.max(canaryErrors, lo);
  if (a > hi) return 0;
  if (errors === 0 || a <= lo) return 1;
  const logP = logChoose(errors, a) + logChoose(total - errors, draws - a) - logChoose(total, draws);
  let term = Math.exp(logP);
  let sum = term;
  for (let k = a; k < hi && k - a < MAX_TERMS; k++) {
    term *= ((errors - k) * (draws - k)) / ((k + 1) * (total - errors - draws + k + 1));
    sum += term;
    if (term < sum * 1e-16) break;
  }
  return Math.min(1, sum);
}

/** P(X >= k) for X ~ Binomial(n, p): how likely `k` or more errors of `n` are at a true rate `p`. */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  let term = Math.exp(logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p));
  let sum = term;
  for (let i = k; i < n && i - k < MAX_TERMS; i++) {
    term *= ((n - i) / (i + 1)) * (p / (1 - p));
    sum += term;
    if (term < sum * 1e-16) break;
  }
  return Math.min(1, sum);
}

/** Observations in a histogram. */
export function histogramCount(h: LatencyHistogram): number {
  let n = 0;
  for (const c of h.counts) n += Number.isFinite(c) && c > 0 ? c : 0;
  return n;
}

/**
 * The q-quantile (0-1) of a bucketed histogram, interpolated linearly inside its bucket as
 * Prometheus's histogram_quantile does; the +Inf bucket answers the highest finite bound. `counts`
 * may have one entry more than `bounds` (the +Inf bucket) or end with a bound of Infinity.
 * undefined when empty.
 */
export function histogramQuantile(h: LatencyHistogram, q: number): number | undefined {
  const total = histogramCount(h);
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  let lastFinite = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    const count = Number.isFinite(c) && c > 0 ? c : 0;
    const upper = h.bounds[i] ?? Number.POSITIVE_INFINITY;
    const lower = i === 0 ? 0 : (h.bounds[i - 1] ?? lastFinite);
    if (Number.isFinite(upper)) lastFinite = upper;
    if (count > 0 && seen + count >= rank) {
      if (!Number.isFinite(upper)) return lastFinite;
      return lower + ((upper - lower) * (rank - seen)) / count;
    }
    seen += count;
  }
  return lastFinite;
}

/** The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p <= 0 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo || p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(p < lo ? p : 1 - p));
    const x =
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
    return p < lo ? x : -x;
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/**
 * Upper confidence bound of (canary rate - stable rate), Agresti-Caffo (one success and one
 * failure added to each side, which keeps the interval honest with zero or few errors).
 */
export function rateDifferenceUpperBound(
  canaryErrors: number,
  canaryRequests: number,
  stableErrors: number,
  stableRequests: number,
  confidence: number,
): number {
  const pc = (canaryErrors + 1) / (canaryRequests + 2);
  const ps = (stableErrors + 1) / (stableRequests + 2);
  const se = Math.sqrt((pc * (1 - pc)) / (canaryRequests + 2) + (ps * (1 - ps)) / (stableRequests + 2));
  return pc - ps + normalQuantile(confidence) * se;
}

/**
 * Wald's sequential probability ratio on where the errors fall. Given the errors seen, each one
 * is the canary's with probability `canaryShare` (its share of the requests) if both subsets fail
 * at the same rate, and with θ1 = R·w / (R·w + 1 - w) if the canary fails `ratio` (R) times as
 * often. The ratio of those two likelihoods is a nonnegative martingale under "no difference", so
 * by Ville's inequality it ever reaches 1/alpha with probability at most alpha, however often it is
 * looked at: the judge may look every second on the cumulative counts of a step. Returns ln of it.
 */
export function errorShareLogLikelihoodRatio(
  canaryErrors: number,
  stableErrors: number,
  canaryShare: number,
  ratio: number,
): number {
  const w = canaryShare;
  if (!(w > 0 && w < 1) || !(ratio > 1)) return 0;
  const theta1 = (ratio * w) / (ratio * w + 1 - w);
  return canaryErrors * Math.log(theta1 / w) + stableErrors * Math.log((1 - theta1) / (1 - w));
}

const MAX_BUCKETS = 512;
/** Per-observation evidence is bounded: one outlier moves the latency test by at most ln(20)-ish. */
const MAX_BUCKET_RATIO = 20;

/**
 * A histogram smoothed by half an observation per bucket (`p`), and the share of each bucket that
 * the same distribution with every latency multiplied by `ratio` would have (`q`): the histogram's
 * CDF is taken linear inside each finite bucket, the +Inf bucket all at +Inf. undefined when the
 * histogram is empty or malformed (bounds not increasing, too many buckets).
 */
function scaledBucketShares(h: LatencyHistogram, ratio: number): { p: number[]; q: number[] } | undefined {
  const slots = h.counts.length;
  if (!(ratio > 0) || slots < 2 || slots > MAX_BUCKETS || h.bounds.length < slots - 1) return undefined;
  const total = histogramCount(h);
  if (total === 0) return undefined;
  const upper = (i: number) => (i < slots - 1 ? h.bounds[i]! : Number.POSITIVE_INFINITY);
  for (let i = 0; i < slots - 1; i++) {
    const u = upper(i);
    if (!(Number.isFinite(u) && u > (i === 0 ? 0 : upper(i - 1)))) return undefined;
  }
  const p = h.counts.map((c) => (cleanCount(c) + 0.5) / (total + 0.5 * slots));
  const before = [0];
  for (let i = 0; i < slots - 1; i++) before.push(before[i]! + p[i]!);
  const cdf = (x: number): number => {
    // The first finite bucket whose upper bound is >= x (binary search: bounds increase).
    let lo = 0;
    let hi = slots - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (upper(mid) >= x) hi = mid;
      else lo = mid + 1;
    }
    if (lo === slots - 1) return before[lo]!;
    const from = lo === 0 ? 0 : upper(lo - 1);
    return before[lo]! + (p[lo]! * Math.max(0, x - from)) / (upper(lo) - from);
  };
  const q: number[] = [];
  for (let i = 0; i < slots; i++) {
    const lo = i === 0 ? 0 : upper(i - 1);
    const mass = i < slots - 1 ? cdf(upper(i) / ratio) - cdf(lo / ratio) : 1 - cdf(lo / ratio);
    q.push(Math.max(mass, 1e-12));
  }
  return { p, q };
}

/**
 * The bucket-by-bucket weights of the latency test: for each bucket, how much more often a latency
 * `ratio` times the baseline's lands there than the baseline's own does (q_b / p_b). Made
 * non-decreasing from the fastest bucket to the slowest, so a canary far slower than anything the
 * baseline saw weighs the most, not nothing, and clamped to [1/20, 20]. undefined when the
 * baseline is empty or malformed.
 */
export function latencyShiftWeights(baseline: LatencyHistogram, ratio: number): number[] | undefined {
  if (!(ratio > 1)) return undefined;
  const shares = scaledBucketShares(baseline, ratio);
  if (!shares) return undefined;
  const weights: number[] = [];
  let floor = 1 / MAX_BUCKET_RATIO;
  for (let i = 0; i < shares.p.length; i++) {
    floor = Math.min(MAX_BUCKET_RATIO, Math.max(floor, shares.q[i]! / shares.p[i]!));
    weights.push(floor);
  }
  return weights;
}

/**
 * Scale factors the estimate weighs: 2^(k/8) from 0.5x up to what moves the first bucket past the
 * last finite bound (so a canary slower than anything stable showed is still sized), at most 2^20.
 */
function scaleGrid(bounds: readonly number[]): number[] {
  const first = bounds[0]!;
  const last = bounds[bounds.length - 1]!;
  const span = first > 0 && Number.isFinite(last) && last > first ? Math.log2(last / first) : 4;
  const steps = Math.min(168, Math.ceil(8 * span) + 16);
  return Array.from({ length: steps + 1 }, (_, k) => 2 ** ((k - 8) / 8));
}

export interface LatencyScale {
  /** How many times slower than the reference, by maximum likelihood over the grid. */
  readonly estimate: number;
  /**
   * ln of how much better the best scale of at least `ratio` explains the sample than the best
   * scale of at most `nullRatio` (a generalized likelihood ratio).
   */
  readonly logLr: number;
}

/**
 * How many times slower than `reference` the `sample` histogram is, by likelihood over scale
 * factors from 0.5x (steps of 2^(1/8); scaleGrid), bucket-aware: a canary whose median crosses a coarse bucket
 * bound does not read as twice as slow the way interpolated quantiles do. The judge uses it to size
 * a difference the sequential test has found, not to find one. undefined without data or with
 * different buckets.
 */
export function latencyScale(
  sample: LatencyHistogram,
  reference: LatencyHistogram,
  ratio: number,
  nullRatio: number,
): LatencyScale | undefined {
  if (!sameBuckets(sample, reference) || histogramCount(sample) === 0) return undefined;
  const counts = sample.counts.map(cleanCount);
  let estimate = 1;
  let best = Number.NEGATIVE_INFINITY;
  let bestAlt = Number.NEGATIVE_INFINITY;
  let bestNull = Number.NEGATIVE_INFINITY;
  for (const scale of scaleGrid(reference.bounds.slice(0, sample.counts.length - 1))) {
    const shares = scaledBucketShares(reference, scale);
    if (!shares) return undefined;
    let logL = 0;
    for (let i = 0; i < counts.length; i++) if (counts[i]! > 0) logL += counts[i]! * Math.log(shares.q[i]!);
    if (logL > best) {
      best = logL;
      estimate = scale;
    }
    if (scale >= ratio * (1 - 1e-9)) bestAlt = Math.max(bestAlt, logL);
    if (scale <= nullRatio * (1 + 1e-9)) bestNull = Math.max(bestNull, logL);
  }
  return { estimate, logLr: bestAlt - bestNull };
}

/**
 * The latency counterpart of errorShareLogLikelihoodRatio. Whatever the latency distribution (and
 * however it drifts during the window), if canary and stable are alike an observation in any
 * bucket is the canary's with probability w, its share of the observations. The alternative weighs
 * bucket b by r_b (latencyShiftWeights): the canary's with probability θ_b = r_b·w / (r_b·w + 1 - w).
 * Any θ fixed before the step's data keeps the ratio a nonnegative martingale under "alike", so
 * Ville's bound holds at every look; the baseline (stable before the step) only decides how much
 * the test can see. Returns ln of it; 0 when the histograms do not have the weights' buckets.
 */
export function latencyShiftLogLikelihoodRatio(
  canary: LatencyHistogram,
  stable: LatencyHistogram,
  weights: readonly number[],
): number {
  const slots = weights.length;
  if (canary.counts.length !== slots || stable.counts.length !== slots) return 0;
  const c = canary.counts.map(cleanCount);
  const s = stable.counts.map(cleanCount);
  const nc = c.reduce((a, b) => a + b, 0);
  const ns = s.reduce((a, b) => a + b, 0);
  if (nc === 0 || ns === 0) return 0;
  const w = nc / (nc + ns);
  let sum = 0;
  for (let i = 0; i < slots; i++) {
    const r = weights[i]!;
    const theta = (r * w) / (r * w + 1 - w);
    if (c[i]! > 0) sum += c[i]! * Math.log(theta / w);
    if (s[i]! > 0) sum += s[i]! * Math.log((1 - theta) / (1 - w));
  }
  return sum;
}

/** Two histograms share buckets when their finite bounds are the same numbers. */
export function sameBuckets(a: LatencyHistogram, b: LatencyHistogram): boolean {
  if (a.counts.length !== b.counts.length || a.bounds.length !== b.bounds.length) return false;
  for (let i = 0; i < a.bounds.length; i++) if (a.bounds[i] !== b.bounds[i]) return false;
  return true;
}

function cleanCount(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}
