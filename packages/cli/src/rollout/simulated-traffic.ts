import type { Random } from '@meshless/core';
import type { SubsetWindow } from 'meshless/contract';

// Seeded traffic for the judge's simulations (judge-sequential.test.ts and
// bench/rollout-blast-radius): Poisson arrivals, failures at a rate, lognormal latency (sigma 0.5)
// in power-of-two buckets. Not part of the package's API.

export const SIM_BOUNDS: readonly number[] = Array.from({ length: 14 }, (_, i) => 2 ** i);

export interface SimTraffic {
  readonly errorRate: number;
  readonly medianMs: number;
}

export interface SimCells {
  requests: number;
  errors: number;
  counts: number[];
}

/** A Poisson draw by inversion (bounded at 10 000). */
export function poisson(random: Random, mean: number): number {
  let k = 0;
  let p = Math.exp(-mean);
  let sum = p;
  const u = random();
  while (u > sum && k < 10_000) {
    k++;
    p *= mean / k;
    sum += p;
  }
  return k;
}

export function emptyCells(): SimCells {
  return { requests: 0, errors: 0, counts: new Array<number>(SIM_BOUNDS.length + 1).fill(0) };
}

/** Adds `n` requests of `t` to `cells`: each fails with t.errorRate, its latency lognormal around t.medianMs. */
export function addRequests(random: Random, cells: SimCells, n: number, t: SimTraffic): void {
  for (let i = 0; i < n; i++) {
    if (random() < t.errorRate) cells.errors++;
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const ms = t.medianMs * Math.exp(0.5 * z);
    const b = SIM_BOUNDS.findIndex((x) => ms <= x);
    cells.counts[b === -1 ? SIM_BOUNDS.length : b]!++;
  }
  cells.requests += n;
}

export function sumCells(list: readonly SimCells[]): SimCells {
  const out = emptyCells();
  for (const c of list) {
    out.requests += c.requests;
    out.errors += c.errors;
    for (let i = 0; i < out.counts.length; i++) out.counts[i]! += c.counts[i]!;
  }
  return out;
}

export function simWindow(subset: string, c: SimCells): SubsetWindow {
  return {
    subset,
    requests: c.requests,
    errors: c.errors,
    latency: { bounds: SIM_BOUNDS, counts: c.counts },
  };
}
