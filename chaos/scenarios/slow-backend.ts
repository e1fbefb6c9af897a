// A slow backend: one of three starts answering 400 ms late under 100 calls/s, no rule at all.
// The default picker (P2C peak-EWMA) weighs latency: the slow one soon gets a small share of the
// calls and the p95 latency stays near the fast backends'.
import { quantile } from '../../bench/lib/measure.ts';
import { pacedLoad } from '../lib/paced-load.ts';
import { atMost, type ChaosScenario, check, round } from '../lib/scenario.ts';
import { busiest, startShop, timedGet } from '../lib/shop.ts';

const DELAY_MS = 400;

export const slowBackend: ChaosScenario = {
  name: 'slow-backend',
  fault: `1 of 3 backends answers ${DELAY_MS} ms late (100/s)`,
  fast: false,
  timeoutMs: 60_000,
  async run(ctx) {
    const { backends, client, attempts } = await startShop(ctx, 'slow');
    let victim = backends[0]!;
    let victimId = '';
    let slowAt = Number.NaN;
    const latencies: { at: number; ms: number }[] = [];
    const sink: number[] = [];
    const result = await pacedLoad({
      rate: 100,
      count: 500,
      call: async (i) => {
        const at = performance.now();
        const ok = await timedGet(client, `/items/${i}`, sink);
        latencies.push({ at, ms: sink.at(-1)! });
        return ok;
      },
      beforeSend: (i) => {
        if (i !== 100) return;
        slowAt = performance.now();
        victim = busiest(backends, attempts, slowAt - 250);
        victimId = `-${victim.name}`;
        victim.behave = (_req, res) => {
          setTimeout(() => res.end('{"version":"v1","slow":true}'), DELAY_MS);
          return true;
        };
      },
    });
    // Judged from 1 s after the slowdown: time for the latency estimate to take it in.
    const settled = slowAt + 1000;
    const late = attempts.filter((a) => a.at > settled);
    const share = late.filter((a) => a.id.endsWith(victimId)).length / Math.max(1, late.length);
    const lateLatencies = latencies.filter((l) => l.at > settled).map((l) => l.ms);
    const p95 = quantile(lateLatencies, 0.95);
    return {
      checks: [
        check('no call fails', `${result.failed} of ${result.calls}`, result.failed === 0),
        check(
          'the slow backend gets under 10 % of attempts (from 1 s after it slowed; even split: 33 %)',
          `${(share * 100).toFixed(1)} % of ${late.length}`,
          share < 0.1,
        ),
        atMost(`p95 latency from then on under the slow one's ${DELAY_MS} ms`, p95, DELAY_MS - 1),
      ],
      figures: {
        calls: result.calls,
        failed: result.failed,
        slowShare: share,
        p50Ms: round(quantile(lateLatencies, 0.5)),
        p95Ms: round(p95),
        p99Ms: round(quantile(lateLatencies, 0.99)),
      },
    };
  },
};
