// Helpers for this package's tests (not exported from the package).
import type { Endpoint, PickContext, Picker } from '@meshless/core';

/** Upper critical value of chi-square with `df` degrees of freedom at p = 0.001 (Wilson-Hilferty). */
export function chiSquareCritical(df: number): number {
  const z = 3.090232; // one-sided 0.999 normal quantile
  const k = 2 / (9 * df);
  return df * (1 - k + z * Math.sqrt(k)) ** 3;
}

/** Pearson's chi-square statistic of counts against expected shares (normalised). */
export function chiSquare(counts: readonly number[], shares: readonly number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  const total = shares.reduce((a, b) => a + b, 0);
  let stat = 0;
  for (let i = 0; i < counts.length; i++) {
    const expected = (n * shares[i]!) / total;
    stat += (counts[i]! - expected) ** 2 / expected;
  }
  return stat;
}

/** True when the counts fit the shares at p = 0.001. */
export function fitsShares(counts: readonly number[], shares: readonly number[]): boolean {
  return chiSquare(counts, shares) < chiSquareCritical(counts.length - 1);
}

/** A binomial band (mean +- z sigma, z = 4 by default) for `n` trials of probability `p`. */
export function binomialBand(n: number, p: number, z = 4): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - z * sd, n * p + z * sd];
}

/** Picks `n` times and counts picks per endpoint id, in the order of `ids`. */
export function countPicks(picker: Picker, ids: readonly string[], n: number, ctx?: PickContext): number[] {
  const index = new Map(ids.map((id, i) => [id, i]));
  const counts = ids.map(() => 0);
  for (let i = 0; i < n; i++) {
    const ep = picker.pick(ctx) as Endpoint;
    const j = index.get(ep.id);
    if (j === undefined) throw new Error(`picked unknown endpoint ${ep.id}`);
    counts[j]!++;
  }
  return counts;
}
