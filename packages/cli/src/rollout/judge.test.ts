import { type Random, seededRandom } from '@meshless/core';
import type { SubsetWindow } from 'meshless/contract';
import { describe, expect, it } from 'vitest';
import { DEFAULT_JUDGE, judge } from './judge.ts';
import { binomialUpperTail, fisherOneSided, histogramQuantile } from './statistics.ts';

// Log buckets as a signals reader would merge them: 1 ms to ~8 s, then +Inf.
const BOUNDS = Array.from({ length: 14 }, (_, i) => 2 ** i);

/** A window of `n` requests failing at `errorRate`, latencies lognormal around `medianMs`. */
function simulate(
  random: Random,
  subset: string,
  n: number,
  errorRate: number,
  medianMs: number,
): SubsetWindow {
  const counts = new Array<number>(BOUNDS.length + 1).fill(0);
  let errors = 0;
  for (let i = 0; i < n; i++) {
    if (random() < errorRate) errors++;
    // Box-Muller: sigma 0.5 in log space (p99 about 3.2x the median).
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const ms = medianMs * Math.exp(0.5 * z);
    const bucket = BOUNDS.findIndex((b) => ms <= b);
    counts[bucket === -1 ? BOUNDS.length : bucket]!++;
  }
  return { subset, requests: n, errors, latency: { bounds: BOUNDS, counts } };
}

function merge(a: SubsetWindow, b: SubsetWindow): SubsetWindow {
  return {
    subset: a.subset,
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    latency: { bounds: BOUNDS, counts: a.latency.counts.map((c, i) => c + b.latency.counts[i]!) },
  };
}

describe('statistics', () => {
  it("Fisher's one-sided p matches the hypergeometric tail", () => {
    // 3 of 3 errors among the 50 canary requests of 500: C(50,3)/C(500,3).
    expect(fisherOneSided(3, 50, 0, 450)).toBeCloseTo((50 * 49 * 48) / (500 * 499 * 498), 8);
    expect(fisherOneSided(0, 50, 5, 450)).toBe(1);
    expect(fisherOneSided(0, 0, 0, 0)).toBe(1);
    // Equal rates: nothing to see.
    expect(fisherOneSided(10, 1000, 10, 1000)).toBeGreaterThan(0.4);
  });

  it('binomial upper tail', () => {
    expect(binomialUpperTail(1, 1, 0.5)).toBeCloseTo(0.5, 10);
    expect(binomialUpperTail(2, 2, 0.1)).toBeCloseTo(0.01, 10);
    expect(binomialUpperTail(0, 10, 0.1)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.1)).toBe(0);
  });

  it('histogram quantiles interpolate inside the bucket; +Inf answers the last bound', () => {
    const h = { bounds: [10, 20, 40], counts: [50, 40, 10, 0] };
    expect(histogramQuantile(h, 0.5)).toBe(10);
    expect(histogramQuantile(h, 0.7)).toBe(15);
    expect(histogramQuantile(h, 0.95)).toBe(30);
    expect(histogramQuantile({ bounds: [10, Number.POSITIVE_INFINITY], counts: [1, 9] }, 0.9)).toBe(10);
    expect(histogramQuantile({ bounds: [10], counts: [0, 0] }, 0.9)).toBeUndefined();
  });
});

describe('judge', () => {
  // The sample sizes of the integration test's traffic: a 10 % canary over a 20 s window at 50 req/s.
  const CANARY_N = 100;
  const STABLE_N = 900;

  it('promotes a healthy canary once it is shown within the margin', () => {
    // 1 000 canary requests: a 10 % canary over 20 s at 500 req/s, or 200 s at 50 req/s.
    const r = seededRandom(1);
    const v = judge([simulate(r, 'v1', 9000, 0.001, 10), simulate(r, 'v2', 1000, 0.001, 10)], 'v2', 'v1');
    expect(v.decision, v.reason).toBe('promote');
    expect(v.canary.requests).toBe(1000);
    expect(v.errorDiffUpperPercent).toBeLessThan(1);
  });

  it('holds a healthy canary with too few requests to show it within the margin', () => {
    const r = seededRandom(2);
    const v = judge(
      [simulate(r, 'v1', STABLE_N, 0.001, 10), simulate(r, 'v2', CANARY_N, 0.001, 10)],
      'v2',
      'v1',
    );
    expect(v.decision).toBe('hold');
    expect(v.reason).toMatch(/not yet shown within 1 points/);
  });

  it('rolls back a canary failing 5 % of requests', () => {
    let atOnce = 0;
    let withinThree = 0;
    for (let seed = 0; seed < 200; seed++) {
      const r = seededRandom(seed);
      let stable = simulate(r, 'v1', STABLE_N, 0, 10);
      let canary = simulate(r, 'v2', CANARY_N, 0.05, 10);
      for (let look = 1; look <= 3; look++) {
        const v = judge([stable, canary], 'v2', 'v1');
        expect(v.decision).not.toBe('promote');
        if (v.decision === 'rollback') {
          if (look === 1) atOnce++;
          withinThree++;
          break;
        }
        stable = merge(stable, simulate(r, 'v1', STABLE_N, 0, 10));
        canary = merge(canary, simulate(r, 'v2', CANARY_N, 0.05, 10));
      }
    }
    // 5 expected errors of 100 against none of 900: the sequential test wants 4 (ratio 50 at a
    // 10 % share reaches 1/0.001 at the 4th), caught at once in 140 of 200 windows with these
    // seeds; the rest hold (never promote: the margin is not shown) and are caught as the window
    // grows (two more windows of the same traffic: all 200).
    expect(atOnce).toBeGreaterThan(120);
    expect(withinThree).toBeGreaterThan(190);
  });

  it('rolls back a canary 3x slower', () => {
    const r = seededRandom(7);
    const v = judge([simulate(r, 'v1', STABLE_N, 0, 10), simulate(r, 'v2', CANARY_N, 0, 30)], 'v2', 'v1');
    expect(v.decision).toBe('rollback');
    expect(v.reason).toMatch(/p95/);
  });

  it('holds while either subset has too few requests', () => {
    const r = seededRandom(3);
    const v = judge([simulate(r, 'v1', STABLE_N, 0, 10), simulate(r, 'v2', 20, 0, 10)], 'v2', 'v1');
    expect(v.decision).toBe('hold');
    expect(judge([], 'v2', 'v1').decision).toBe('hold');
  });

  it('rolls back on the absolute error SLO even before the minimum sample', () => {
    const r = seededRandom(4);
    const v = judge([simulate(r, 'v1', 900, 0.5, 10), simulate(r, 'v2', 40, 0.5, 10)], 'v2', 'v1', {
      ...DEFAULT_JUDGE,
      maxErrorPercent: 5,
    });
    expect(v.decision).toBe('rollback');
    expect(v.reason).toMatch(/SLO/);
  });

  it('does not trust hostile counts', () => {
    const bad: SubsetWindow = {
      subset: 'v2',
      requests: Number.NaN,
      errors: -5,
      latency: { bounds: [1], counts: [Number.POSITIVE_INFINITY, -1] },
    };
    const v = judge([bad], 'v2', 'v1');
    expect(v.decision).toBe('hold');
    expect(v.canary.requests).toBe(0);
  });

  it('false rollbacks of a healthy canary stay rare over whole simulated plans', () => {
    // A plan of 4 judged steps (1, 5, 25, 50 %) at 200 req/s, each judged every 5 s on a window
    // growing from the step start until it promotes (at most 12 holds, as maxHolds); canary and
    // stable alike: 0.5 % errors, 10 ms median.
    const plans = 500;
    let falseRollbacks = 0;
    for (let seed = 0; seed < plans; seed++) {
      const r = seededRandom(1000 + seed);
      plan: for (const weight of [1, 5, 25, 50]) {
        // The window grows by 5 s of traffic per look: add only the new requests (cheap).
        let canary = simulate(r, 'v2', 0, 0, 10);
        let stable = simulate(r, 'v1', 0, 0, 10);
        for (let tick = 1; tick <= 13; tick++) {
          const canaryN = Math.round((200 * 5 * weight) / 100);
          canary = merge(canary, simulate(r, 'v2', canaryN, 0.005, 10));
          stable = merge(stable, simulate(r, 'v1', 200 * 5 - canaryN, 0.005, 10));
          const v = judge([stable, canary], 'v2', 'v1');
          if (v.decision === 'rollback') {
            falseRollbacks++;
            break plan;
          }
          if (v.decision === 'promote') break;
        }
      }
    }
    // Observed 2 in 500 with these seeds under the sequential test (4 with Fisher's exact at 0.001
    // per look, 18 at 0.01). Deterministic (seeded); the bound says what is promised.
    expect(falseRollbacks / plans).toBeLessThan(0.02);
  }, 30_000);
});
