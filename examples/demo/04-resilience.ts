// Chapter 4: resilience. A failing instance trips its own breaker while retries keep callers
// whole; a governed gateway method answers from its fallback while the whole catalog is down; a
// retry budget caps the extra load retries add in an outage; and a threshold an operator changes
// in Consul is in force on the gateway within milliseconds.
import { resourceSection } from 'meshless';
import { applied } from './03-canary.ts';
import { color, type DemoConsul, log } from './lib.ts';
import { bars, type Shop, summary, type Traffic } from './shop.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const INSTANCES = ['v1-a', 'v1-b', 'v2-a'];
const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };
const backoff = { baseMs: 5, maxMs: 50 };
// `circuit-open` too: a half-open breaker turns away all but its probes; another endpoint serves.
const retry = { attempts: 3, backoff, on: ['5xx', 'connect-error', 'reset', 'circuit-open'] };
const breaker = { errorPercent: 50, volume: 5, windowMs: 2000, openMs: 1000, halfOpenProbes: 2 };
const budget = { percent: 20, minPerSecond: 2 };
const RESOURCE = 'gateway.getItem';

interface Answer {
  from: 'catalog' | 'fallback';
  instance?: string;
  reason?: string;
}

export async function resilience(shop: Shop, consul: DemoConsul, prefix: string): Promise<void> {
  log(color.bold('\n4. Resilience: breakers, fallback, retry budget, thresholds changed live'));
  const policies = `${prefix}/services/catalog/policies`;
  await applied(shop, consul, `${prefix}/services/catalog/routes`, { subsets });
  await applied(shop, consul, `${prefix}/services/catalog/balancer`, { algorithm: 'round-robin' });
  log(
    color.dim(
      '   routes: all versions again; balancer: round-robin, no outlier ejection (breakers do the work)',
    ),
  );
  const watch = new BreakerWatch(shop);
  try {
    await breakerOpensAndCloses(shop, consul, policies, watch);
    const getItem = governedGetItem(shop);
    await fallbackAnswers(shop, getItem, watch);
    await retryBudget(shop, consul, policies);
    await liveThreshold(shop, consul, `${prefix}/resources/${RESOURCE}`, getItem);
  } finally {
    watch.dispose();
    await Promise.all(INSTANCES.map((i) => shop.mode(i, 'fail=0&slow=0')));
  }
  log(color.dim(`   edit the policies yourself: ${consul.uiUrl}/dc1/kv/${policies}/edit`));
}

/** 1. One instance fails: its breaker opens, retries cover the callers; healed, it closes again. */
async function breakerOpensAndCloses(
  shop: Shop,
  consul: DemoConsul,
  policies: string,
  watch: BreakerWatch,
): Promise<void> {
  const index = await put(shop, consul, policies, { timeoutMs: 500, retry, breaker });
  log(
    `   PUT ${policies} ${at(index)}  ${color.dim('retry 3x; breaker per endpoint: >= 50 % errors of >= 5 calls in 2 s opens it for 1 s')}`,
  );
  log(color.dim(`     ${JSON.stringify({ retry, breaker })}`));
  await shop.mode('v1-b', 'fail=1');
  log(`   catalog-v1-b now answers ${color.red('HTTP 500')}; 300 requests:`);
  const before = await hits(shop);
  const t = await shop.traffic(300);
  const reached = diff(await hits(shop), before);
  for (const line of bars(t.byInstance, 300)) log(`     ${line}`);
  const calls = sum(reached);
  log(
    `     ${summary(t)}  ${color.dim(`(${calls} calls reached the instances: v1-b got ${reached.get('v1-b') ?? 0}, ${calls - 300} retries covered them)`)}`,
  );
  log(`     breakers: ${breakerLine(shop)}`);
  if (!watch.saw('v1-b', 'open')) throw new Error('the breaker of catalog-v1-b did not open');

  await shop.mode('v1-b', 'fail=0');
  const healed = performance.now();
  log(`   catalog-v1-b healed; a trickle of requests while its breaker waits out openMs (1000 ms):`);
  const trickle = await trickleUntil(shop, () => watch.state('v1-b') === 'closed');
  log(`     ${watch.timeline('v1-b', healed)}`);
  log(`     ${summary(trickle)}  ${color.dim('during recovery')}`);
}

/** The gateway's own method, governed as resource `gateway.getItem`, with a fallback answer. */
function governedGetItem(shop: Shop): (id: number) => Promise<Answer> {
  const catalog = shop.gateway.client('catalog');
  async function getItem(id: number): Promise<Answer> {
    const res = await catalog.fetch(`/items/${id}`);
    const body = (await res.json().catch(() => ({}))) as { instance?: string };
    if (!res.ok) throw new Error(`catalog answered HTTP ${res.status}`);
    return { from: 'catalog', instance: body.instance ?? '?' };
  }
  const decorator = shop.gateway.governed(RESOURCE, {
    timeoutMs: 1000,
    fallback: (error: unknown): Answer => ({ from: 'fallback', reason: reasonOf(error) }),
  });
  // Node's type stripping has no decorator syntax; this is the call `@mesh.governed(...)` compiles to.
  const context = { kind: 'method', name: 'getItem', static: false, private: false, metadata: {} };
  const apply = decorator as unknown as (
    method: typeof getItem,
    ctx: typeof context & { addInitializer(): void },
  ) => typeof getItem;
  return apply(getItem, { ...context, addInitializer() {} });
}

/** 2. The whole catalog fails: the governed method answers from its fallback, then recovers. */
async function fallbackAnswers(
  shop: Shop,
  getItem: (id: number) => Promise<Answer>,
  watch: BreakerWatch,
): Promise<void> {
  log(`   ${color.cyan(`mesh.governed('${RESOURCE}', { timeoutMs: 1000, fallback })`)} on the gateway`);
  await Promise.all(INSTANCES.map((i) => shop.mode(i, 'fail=1')));
  log(`   ${color.red('all three')} catalog instances answer HTTP 500; getItem until every breaker is open:`);
  const down = await calls(getItem, () => watch.noneClosed(), 4000);
  for (const line of bars(down.from, down.made)) log(`     ${line}`);
  log(`     ${errorsLine(down)}  ${color.dim(`fallback because: ${list(down.reasons)}`)}`);
  log(`     breakers: ${breakerLine(shop)}`);
  if (down.errors > 0 || down.from.has('catalog')) throw new Error('the fallback did not answer every call');

  const before = await hits(shop);
  const open = await calls(getItem, (made) => made >= 20);
  const touched = sum(diff(await hits(shop), before));
  log(
    `   20 more calls: ${list(open.from)} (${list(open.reasons)}), ${(open.ms / 20).toFixed(1)} ms each; ${touched} reached the catalog`,
  );

  await Promise.all(INSTANCES.map((i) => shop.mode(i, 'fail=0')));
  const healed = performance.now();
  log('   catalog healed; getItem every 25 ms:');
  const seen: Answer['from'][] = [];
  let firstOk = 0;
  while (performance.now() - healed < 5000 && !(seen.at(-1) === 'catalog' && watch.allClosed())) {
    const answer = await getItem(1).catch(() => undefined);
    seen.push(answer?.from ?? 'fallback');
    if (answer?.from === 'catalog' && !firstOk) firstOk = performance.now() - healed;
    await sleep(25);
  }
  const fallbacks = seen.filter((f) => f === 'fallback').length;
  const back = firstOk
    ? `then the catalog from +${firstOk.toFixed(0)} ms`
    : 'the catalog did not answer in 5 s';
  log(
    `     ${fallbacks}x fallback while the breakers wait out openMs, ${back} (${seen.length - fallbacks}x); breakers: ${breakerLine(shop)}`,
  );
}

/** 3. An outage with and without a retry budget: how many calls reach the instances. */
async function retryBudget(shop: Shop, consul: DemoConsul, policies: string): Promise<void> {
  const plain = { attempts: 3, backoff, on: ['5xx'] };
  await Promise.all(INSTANCES.map((i) => shop.mode(i, 'fail=1')));
  log(`   outage again (all answer HTTP 500), no breaker this time; 100 requests per run:`);
  const runs: [string, number, number][] = [];
  for (const doc of [{ retry: plain }, { retry: { ...plain, budget } }]) {
    const index = await put(shop, consul, policies, { timeoutMs: 500, ...doc });
    const before = await hits(shop);
    await shop.traffic(100);
    const calls = sum(diff(await hits(shop), before));
    runs.push(['budget' in doc.retry ? `budget ${JSON.stringify(budget)}` : 'no budget', index, calls]);
  }
  const cap = Math.floor(100 * (budget.percent / 100)) + budget.minPerSecond * 10;
  const width = 30;
  for (const [what, index, calls] of runs) {
    const filled = Math.round((calls / 300) * width);
    log(
      `     ${at(index)} ${color.cyan('█'.repeat(filled))}${color.dim('░'.repeat(width - filled))} ${String(calls).padStart(3)} calls, ${String(calls - 100).padStart(3)} retries  ${color.dim(what)}`,
    );
  }
  const retries = runs[1]![2] - 100;
  log(
    color.dim(
      `     the budget allows ${budget.percent} % of 100 requests + ${budget.minPerSecond}/s x 10 s window = ${cap} retries (it spent ${retries}), not 200`,
    ),
  );
  if (retries > cap) throw new Error(`retry budget exceeded: ${retries} retries, cap ${cap}`);
  await Promise.all(INSTANCES.map((i) => shop.mode(i, 'fail=0')));
  const index = await put(shop, consul, policies, { timeoutMs: 500, retry: { ...retry, budget }, breaker });
  log(`   PUT ${policies} ${at(index)}  ${color.dim('healed; retry with budget and breaker stay in force')}`);
}

/** 4. An operator lowers the method's timeout in Consul; the gateway applies it and falls back sooner. */
async function liveThreshold(
  shop: Shop,
  consul: DemoConsul,
  key: string,
  getItem: (id: number) => Promise<Answer>,
): Promise<void> {
  await Promise.all(INSTANCES.map((i) => shop.mode(i, 'slow=150')));
  log(`   the catalog gets slow (150 ms per answer); getItem's timeout comes from code (1000 ms):`);
  await timed(getItem, 'code value');
  const started = performance.now();
  const index = await put(shop, consul, key, { timeoutMs: 50 });
  log(
    `   PUT ${key} {"timeoutMs":50}  ${color.green('applied')} by the gateway ${at(index)} ${color.dim(`${(performance.now() - started).toFixed(0)} ms after the write`)}`,
  );
  await timed(getItem, 'rule from Consul');
  await consul.kv.delete(key);
  for (let i = 0; i < 500 && shop.gateway.rules.get(resourceSection, RESOURCE) !== undefined; i++)
    await sleep(5);
  log(`   DELETE ${key}  ${color.dim('-> back to the value in code')}`);
  await timed(getItem, 'code value');
  log(color.dim(`   edit it yourself: ${consul.uiUrl}/dc1/kv/${key}/edit`));
}

async function timed(getItem: (id: number) => Promise<Answer>, note: string): Promise<void> {
  const r = { from: new Map<string, number>(), reasons: new Map<string, number>(), errors: 0 };
  const started = performance.now();
  for (let i = 0; i < 4; i++) tally(r, await getItem((i % 3) + 1).catch(() => undefined));
  const avg = (performance.now() - started) / 4;
  const why = r.reasons.size ? ` (${list(r.reasons)})` : '';
  log(`     4 calls: ${list(r.from)}${why}, ${avg.toFixed(0)} ms each  ${color.dim(note)}`);
}

// --- helpers ----------------------------------------------------------------------------------

/** Writes a rule, waits until the gateway applies it, and returns the index it applied. */
async function put(shop: Shop, consul: DemoConsul, key: string, doc: object): Promise<number> {
  await applied(shop, consul, key, doc);
  return shop.gateway.status().rules.keys.find((k) => k.key === key)?.appliedIndex ?? 0;
}

const at = (index: number) => color.dim(`@${index}`);

/** Item requests each instance served so far (its `/_demo/mode` counter). */
async function hits(shop: Shop): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [name, p] of shop.instances) {
    const res = await fetch(`http://127.0.0.1:${p.port}/_demo/mode`);
    out.set(name, ((await res.json()) as { hits: number }).hits);
  }
  return out;
}

function diff(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const list = (m: Map<string, number>) => [...m].map(([k, v]) => `${v}x ${k}`).join(', ') || 'none';

function reasonOf(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e.code ?? e.message ?? String(error);
}

interface Tally {
  from: Map<string, number>;
  reasons: Map<string, number>;
  errors: number;
}

function tally(t: Tally, a: Answer | undefined): void {
  if (!a) {
    t.errors++;
    return;
  }
  t.from.set(a.from, (t.from.get(a.from) ?? 0) + 1);
  if (a.reason) t.reasons.set(a.reason, (t.reasons.get(a.reason) ?? 0) + 1);
}

/** Calls `fn` from `concurrency` callers until `stop(made)` (or `maxMs`); the answers tallied. */
async function calls(
  fn: (id: number) => Promise<Answer>,
  stop: (made: number) => boolean,
  maxMs = 5000,
  concurrency = 4,
): Promise<Tally & { made: number; ms: number }> {
  const t: Tally = { from: new Map(), reasons: new Map(), errors: 0 };
  const started = performance.now();
  let made = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stop(made) && performance.now() - started < maxMs) {
        tally(t, await fn((made++ % 3) + 1).catch(() => undefined));
      }
    }),
  );
  return { ...t, made, ms: performance.now() - started };
}

const errorsLine = (t: Tally) =>
  t.errors ? color.red(`${t.errors} errors reached the caller`) : color.green('0 errors reached the caller');

/** Small batches of requests until `done()` (at most 5 s); their statuses and errors summed up. */
async function trickleUntil(shop: Shop, done: () => boolean): Promise<Traffic> {
  const total = await shop.traffic(0);
  const started = performance.now();
  while (!done() && performance.now() - started < 5000) {
    const t = await shop.traffic(4, {}, 2);
    for (const [k, v] of t.statuses) total.statuses.set(k, (total.statuses.get(k) ?? 0) + v);
    for (const [k, v] of t.errors) total.errors.set(k, (total.errors.get(k) ?? 0) + v);
    await sleep(50);
  }
  total.ms = performance.now() - started;
  return total;
}

function breakerLine(shop: Shop): string {
  const paint = (s: string) =>
    s === 'open' ? color.red('OPEN') : s === 'half-open' ? color.yellow('half-open') : color.green(s);
  return catalogBreakers(shop)
    .map(([id, state]) => `${id} ${paint(state)}`)
    .join('  ');
}

function catalogBreakers(shop: Shop): [string, string][] {
  return shop.gateway
    .status()
    .breakers.filter((b) => b.resource === 'catalog' && b.endpointId !== undefined)
    .map((b): [string, string] => [shortId(b.endpointId!), b.state])
    .sort(([a], [b]) => (a < b ? -1 : 1));
}

/** `meshless-demo/catalog-v1-b` -> `v1-b`, as the bars name instances. */
const shortId = (endpointId: string) =>
  endpointId.slice(endpointId.lastIndexOf('/') + 1).replace(/^catalog-/, '');

/** Samples the gateway's breaker states every 10 ms and keeps their transitions, for the story. */
class BreakerWatch {
  private readonly states = new Map<string, string>();
  private readonly changes: { at: number; id: string; to: string }[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly shop: Shop;

  constructor(shop: Shop) {
    this.shop = shop;
    this.sample();
    this.timer = setInterval(() => this.sample(), 10);
    this.timer.unref();
  }

  state(id: string): string | undefined {
    this.sample();
    return this.states.get(id);
  }

  saw(id: string, state: string): boolean {
    return this.changes.some((c) => c.id === id && c.to === state);
  }

  allClosed(): boolean {
    this.sample();
    return [...this.states.values()].every((s) => s === 'closed');
  }

  /** Every breaker open or half-open (an open one whose openMs passed turns half-open). */
  noneClosed(): boolean {
    this.sample();
    return this.states.size > 0 && [...this.states.values()].every((s) => s !== 'closed');
  }

  /** `open -> half-open +1002 ms -> closed +1010 ms`, times since `since`. */
  timeline(id: string, since: number): string {
    const steps = this.changes.filter((c) => c.id === id && c.at >= since);
    const parts = [
      this.stateAt(id, since) ?? '?',
      ...steps.map((c) => `${c.to} ${color.dim(`+${(c.at - since).toFixed(0)} ms`)}`),
    ];
    return `breaker ${id}: ${parts.join(' -> ')}`;
  }

  dispose(): void {
    clearInterval(this.timer);
  }

  private stateAt(id: string, at: number): string | undefined {
    return this.changes.filter((c) => c.id === id && c.at < at).at(-1)?.to;
  }

  private sample(): void {
    const now = performance.now();
    for (const [id, state] of catalogBreakers(this.shop)) {
      if (this.states.get(id) === state) continue;
      this.states.set(id, state);
      this.changes.push({ at: now, id, to: state });
    }
  }
}
