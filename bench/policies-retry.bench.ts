// Per-call overhead of @meshless/retry's policies over a raw `await fn()`, against a naive
// p-retry and cockatiel's retry. Run: node_modules/.bin/node bench/policies-retry.bench.ts
// (build the package first: `npx tsup` in packages/retry).
import { DeadlinePolicy, HedgePolicy, RetryBudget, RetryPolicy, runWithDeadline } from '@meshless/retry';
import { ConstantBackoff, handleAll, retry } from 'cockatiel';
import pRetry from 'p-retry';
import { measureAsyncNs, type NsResult, printTable, writeResults } from './lib/measure.ts';

const FAST = 100_000;
const SLOW = 20_000;

const fn = async () => 42;

// Fails every other call with a prepared error (so Error construction is not what is timed):
// attempt 1 fails, attempt 2 succeeds.
const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
let flip = 0;
const failOnce = async () => {
  if ((flip++ & 1) === 0) throw refused;
  return 42;
};

const retryPolicy = new RetryPolicy({ attempts: 3 });
const retryWithBudget = new RetryPolicy({
  attempts: 3,
  budget: new RetryBudget({ percent: 20, minPerSecond: 10 }),
});
const hedge = new HedgePolicy({ delayMs: 50, maxAttempts: 2 });
const hedgeWithBudget = new HedgePolicy({
  delayMs: 50,
  maxAttempts: 2,
  budget: new RetryBudget({ percent: 20, minPerSecond: 10 }),
});
// An empty budget: the hedge timer is still armed, so a hedge that falls due is refused and counted.
const hedgeEmptyBudget = new HedgePolicy({
  delayMs: 50,
  maxAttempts: 2,
  budget: new RetryBudget({ percent: 0, minPerSecond: 0 }),
});
const single = retryPolicy.forRequest('POST');
const deadline = new DeadlinePolicy();
const cockatiel = retry(handleAll, { maxAttempts: 3 });
const retryBase0 = new RetryPolicy({ attempts: 3, backoff: { baseMs: 0, maxMs: 0 } });
const cockatielBase0 = retry(handleAll, { maxAttempts: 3, backoff: new ConstantBackoff(0) });

const firstTry: NsResult[] = [];
firstTry.push(await measureAsyncNs('raw await fn()', () => fn(), FAST));
firstTry.push(await measureAsyncNs('RetryPolicy (attempts 3)', () => retryPolicy.execute(fn), FAST));
firstTry.push(
  await measureAsyncNs('RetryPolicy (attempts 3) + RetryBudget', () => retryWithBudget.execute(fn), FAST),
);
firstTry.push(await measureAsyncNs("RetryPolicy.forRequest('POST')", () => single.execute(fn), FAST));
firstTry.push(
  await measureAsyncNs('HedgePolicy (delayMs 50), first try wins', () => hedge.execute(fn), FAST),
);
firstTry.push(
  await measureAsyncNs('HedgePolicy + RetryBudget, first try wins', () => hedgeWithBudget.execute(fn), FAST),
);
firstTry.push(
  await measureAsyncNs(
    'HedgePolicy + empty RetryBudget, first try wins',
    () => hedgeEmptyBudget.execute(fn),
    FAST,
  ),
);
firstTry.push(await measureAsyncNs('DeadlinePolicy, no deadline', () => deadline.execute(fn), FAST));
firstTry.push(
  await measureAsyncNs(
    'DeadlinePolicy under a deadline (incl. runWithDeadline)',
    () => runWithDeadline(performance.now() + 60_000, () => deadline.execute(fn)),
    FAST,
  ),
);
firstTry.push(
  await measureAsyncNs('pRetry(fn, { retries: 3 }) (naive)', () => pRetry(fn, { retries: 3 }), SLOW),
);
firstTry.push(
  await measureAsyncNs('cockatiel retry(handleAll, { maxAttempts: 3 })', () => cockatiel.execute(fn), FAST),
);

const failedOnce: NsResult[] = [];
failedOnce.push(await measureAsyncNs('raw await fn() x2 (the two attempts)', () => fn().then(fn), FAST));
failedOnce.push(
  await measureAsyncNs('RetryPolicy (attempts 3, baseMs 0)', () => retryBase0.execute(failOnce), SLOW),
);
failedOnce.push(
  await measureAsyncNs(
    'pRetry(fn, { retries: 3, minTimeout: 0 })',
    () => pRetry(failOnce, { retries: 3, minTimeout: 0 }),
    SLOW,
  ),
);
// cockatiel always waits on a real setTimeout, even for 0 ms (~1 ms each): few iterations.
failedOnce.push(
  await measureAsyncNs(
    'cockatiel retry (maxAttempts 3, ConstantBackoff(0)): real setTimeout(0)',
    () => cockatielBase0.execute(failOnce),
    200,
    5,
  ),
);

function rows(results: NsResult[]) {
  const base = results[0]!.ns;
  return results.map((r) => ({
    case: r.name,
    'ns/call': r.ns,
    'overhead ns': r === results[0] ? 0 : r.ns - base,
    'x raw': r.ns / base,
  }));
}

printTable('First try succeeds: per-call cost (median of 7 rounds)', rows(firstTry));
printTable('First try fails, second succeeds (no backoff delay)', rows(failedOnce));
writeResults('policies-retry', {
  node: process.version,
  firstTry: rows(firstTry),
  failedOnce: rows(failedOnce),
});
