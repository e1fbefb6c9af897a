// A backend that hangs: one of three starts accepting requests and never answering, under 100
// GETs/s. With a policies rule (500 ms per attempt, 3 attempts retried on timeout, a 20 % + 10/s
// retry budget) and outlier ejection after 5 failures in a row: no call fails, each answers within
// its attempts' time, retries stay within the budget, and the hung backend gets few attempts (the
// picker's latency penalty avoids it after a timeout; as the penalty decays it is tried again now
// and then, and 5 failures in a row would eject it).
import { setTimeout as sleep } from 'node:timers/promises';
import { quantile } from '../../bench/lib/measure.ts';
import { failedOf, pacedLoad } from '../lib/paced-load.ts';
import { atMost, type ChaosScenario, check, round } from '../lib/scenario.ts';
import { busiest, startShop, timedGet } from '../lib/shop.ts';

const TIMEOUT_MS = 500;
const RATE = 100;

export const backendHang: ChaosScenario = {
  name: 'backend-hang',
  fault: '1 of 3 backends stops answering (100 GET/s)',
  fast: true,
  timeoutMs: 60_000,
  async run(ctx) {
    const { backends, client, attempts, setRule } = await startShop(ctx, 'hang');
    await setRule('policies', {
      timeoutMs: TIMEOUT_MS,
      retry: {
        attempts: 3,
        on: ['timeout', 'connect-error', 'reset', '503'],
        budget: { percent: 20, minPerSecond: 10 },
      },
    });
    await setRule('balancer', { outlier: { consecutiveErrors: 5 } });
    let victim = backends[0]!;
    let victimId = '';
    let hungAt = Number.NaN;
    let ejectedAt = Number.NaN;
    const latencies: number[] = [];
    const load = pacedLoad({
      rate: RATE,
      count: 400,
      call: (i) => timedGet(client, `/items/${i}`, latencies),
      beforeSend: (i) => {
        if (i !== 100) return;
        hungAt = performance.now();
        victim = busiest(backends, attempts, hungAt - 250);
        victimId = `-${victim.name}`;
        victim.behave = () => true; // takes the request, never answers
        const poll = setInterval(() => {
          if (client.status().ejected.some((id) => id.endsWith(victimId))) {
            ejectedAt = performance.now();
            clearInterval(poll);
          }
        }, 5);
        ctx.defer(() => clearInterval(poll));
      },
    });
    const result = await load;
    await sleep(10);
    const after = attempts.filter((a) => a.at > hungAt);
    const retries = after.filter((a) => a.attempt > 1).length;
    const seconds = (performance.now() - hungAt) / 1000;
    const callsAfter = result.calls - 100;
    const budget = 0.2 * callsAfter + 10 * seconds;
    const toVictim = after.filter((a) => a.id.endsWith(victimId));
    const lastMs = toVictim.length ? toVictim[toVictim.length - 1]!.at - hungAt : 0;
    const p99 = quantile(latencies, 0.99);
    const max = Math.max(...latencies);
    const ejectMs = ejectedAt - hungAt;
    return {
      checks: [
        check(
          'no call fails (a timed-out attempt is retried on another backend)',
          failedOf(result),
          result.failed === 0,
        ),
        atMost(
          `every call answers within 3 attempts' time (p99 ${round(p99)} ms)`,
          max,
          3 * TIMEOUT_MS + 400,
        ),
        check(
          'retries stay within the budget (20 % of calls + 10/s)',
          `${retries} retries for ${callsAfter} calls in ${seconds.toFixed(1)} s (budget ${Math.round(budget)})`,
          retries <= budget,
        ),
        check(
          'at most 5 % of the attempts after it hung go to the hung backend (each costs its call one timeout)',
          `${toVictim.length} of ${after.length}, the last ${round(lastMs)} ms after; ${
            Number.isNaN(ejectMs)
              ? 'not ejected (too few failures in a row)'
              : `ejected at ${round(ejectMs)} ms`
          }`,
          toVictim.length <= 0.05 * after.length,
        ),
      ],
      figures: {
        calls: result.calls,
        failed: result.failed,
        errors: result.errors,
        p50Ms: quantile(latencies, 0.5),
        p99Ms: p99,
        maxMs: max,
        retries,
        budget,
        hungToEjectedMs: Number.isNaN(ejectMs) ? null : ejectMs,
        attemptsToHungBackend: toVictim.length,
        hungToLastAttemptMs: lastMs,
      },
    };
  },
};
