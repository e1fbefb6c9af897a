import type { LatencyHistogram } from '../signal-source.ts';

/** A histogram of `bounds` with every count 0. */
export function emptyHistogram(bounds: readonly number[]): LatencyHistogram {
  return { bounds, counts: new Array<number>(bounds.length + 1).fill(0) };
}

/** Observations in the histogram. */
export function histogramTotal(h: LatencyHistogram): number {
  let n = 0;
  for (const c of h.counts) n += c;
  return n;
}

/**
 * The sum of two histograms, in `a`'s bounds. Same bounds (every meshless instance with the
 * default buckets): bucket by bucket. Other bounds: each of `b`'s buckets goes whole into the first
 * of `a`'s whose upper bound is at or above its own, so a merged quantile is never faster than
 * what was measured.
 */
export function mergeHistograms(a: LatencyHistogram, b: LatencyHistogram): LatencyHistogram {
  const counts = [...a.counts];
  if (sameBounds(a.bounds, b.bounds)) {
    for (let i = 0; i < counts.length; i++) counts[i]! += b.counts[i] ?? 0;
    return { bounds: a.bounds, counts };
  }
  for (let i = 0; i < b.counts.length; i++) {
    const upper = i < b.bounds.length ? b.bounds[i]! : Number.POSITIVE_INFINITY;
    let j = 0;
    while (j < a.bounds.length && a.bounds[j]! < upper) j++;
    counts[j]! += b.counts[i]!;
  }
  return { bounds: a.bounds, counts };
}

/**
 * What was observed between `before` and `now` (two cumulative readings of one series). A count
 * that went down means the series restarted (a new process, resetMetrics): then all of `now` is
 * new, as Prometheus' increase() takes it.
 */
export function histogramDelta(
  now: LatencyHistogram,
  before: LatencyHistogram | undefined,
): LatencyHistogram {
  if (before === undefined || !sameBounds(now.bounds, before.bounds)) return now;
  const counts = new Array<number>(now.counts.length);
  for (let i = 0; i < counts.length; i++) {
    const d = now.counts[i]! - (before.counts[i] ?? 0);
    if (d < 0) return now;
    counts[i] = d;
  }
  return { bounds: now.bounds, counts };
}

/**
 * The q-quantile (0..1) in ms, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does: the first bucket starts at 0, and a rank in the +Inf bucket answers
 * the highest finite bound. NaN for an empty histogram.
 */
export function histogramQuantile(h: LatencyHistogram, q: number): number {
  const total = histogramTotal(h);
  if (total === 0 || !(q >= 0 && q <= 1)) return Number.NaN;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    if (c > 0 && below + c >= rank) {
      if (i >= h.bounds.length) return h.bounds.length > 0 ? h.bounds[h.bounds.length - 1]! : Number.NaN;
      const lower = i === 0 ? 0 : h.bounds[i - 1]!;
      const upper = h.bounds[i]!;
      return lower + (upper - lower) * ((rank - below) / c);
    }
    below += c;
  }
  return h.bounds.length > 0 ? h.bounds[h.bounds.length - 1]! : Number.NaN;
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
