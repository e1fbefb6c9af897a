// Chapter 6: deadlines travel downstream. The gateway gives each call to catalog 250 ms; catalog
// asks pricing for the price within that same deadline (x-meshless-deadline, then the
// AsyncLocalStorage of mesh.serve). When pricing turns slow, catalog's own call ends with the
// gateway's deadline and pricing's request is cancelled, instead of everyone working on for an
// answer nobody waits for.
import { join } from 'node:path';
import { applied } from './03-canary.ts';
import { color, type DemoConsul, log, startProcess } from './lib.ts';
import type { Shop } from './shop.ts';

const CALLS = 12;

export async function deadlines(shop: Shop, consul: DemoConsul, prefix: string, root: string): Promise<void> {
  log(color.bold('\n6. Deadlines travel downstream: gateway -> catalog -> pricing'));
  const pricing = startProcess('pricing', join(root, 'examples/shop/pricing.ts'), {
    CONSUL_HTTP_ADDR: consul.address,
    DEMO_PREFIX: prefix,
  });
  try {
    const { port } = (await pricing.next((m) => m.event === 'ready')) as { port: number };
    const pricingMode = async (query = '') =>
      (await (await fetch(`http://127.0.0.1:${port}/_demo/mode?${query}`)).json()) as {
        answered: number;
        cancelled: number;
      };
    const policies = `${prefix}/services/catalog/policies`;
    await applied(shop, consul, policies, { timeoutMs: 250 });
    log(`   PUT ${policies} ${color.dim('{"timeoutMs":250}  (each gateway call to catalog: 250 ms)')}`);
    const client = shop.gateway.client('catalog');
    // Catalog discovers pricing on its first call; warm that up outside the counts.
    await waitFor(async () => (await client.fetch('/items/1/price')).ok);

    const fast = await calls(client, CALLS);
    log(`   pricing answers at once: ${CALLS} prices  ${color.green(fast.summary)}`);

    await pricingMode('slow=1500');
    const before = await pricingMode();
    const beforeCatalog = await catalogDeadlines(shop);
    const slow = await calls(client, CALLS);
    log(`   pricing now takes 1.5 s: ${CALLS} prices  ${color.red(slow.summary)}`);
    log(
      color.dim(
        "     (at the 250 ms deadline: the gateway's own timeout, or catalog's 504 when it lands first)",
      ),
    );
    const after = await waitForCount(pricingMode, before.cancelled + CALLS);
    const exceeded = (await catalogDeadlines(shop)) - beforeCatalog;
    log(
      `     catalog: ${color.bold(String(exceeded))} of its calls to pricing ended with ${color.cyan('MESHLESS_DEADLINE_EXCEEDED')} at the gateway's deadline`,
    );
    log(
      `     pricing: ${color.bold(String(after.cancelled - before.cancelled))} requests cancelled by their caller, ${after.answered - before.answered} answered late`,
    );
    if (exceeded !== CALLS || after.cancelled - before.cancelled !== CALLS)
      throw new Error('the deadline did not reach pricing: calls went on after the gateway stopped waiting');
    log(color.dim('     no service worked on past the moment the gateway stopped waiting'));
    await pricingMode('slow=0');
  } finally {
    await pricing.stop();
  }
}

interface Calls {
  summary: string;
}

/** `n` calls one after the other; tallies statuses and errors, and the slowest. */
async function calls(client: ReturnType<Shop['gateway']['client']>, n: number): Promise<Calls> {
  const outcomes = new Map<string, number>();
  let slowest = 0;
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    let outcome: string;
    try {
      const res = await client.fetch(`/items/${(i % 3) + 1}/price`);
      await res.arrayBuffer();
      outcome = res.ok ? 'ok' : `HTTP ${res.status}`;
    } catch (error) {
      outcome = (error as { code?: string }).code ?? (error as Error).name;
    }
    slowest = Math.max(slowest, performance.now() - started);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  const parts = [...outcomes].map(([o, c]) => `${c}x ${o}`);
  return { summary: `${parts.join(', ')}; slowest ${slowest.toFixed(0)} ms` };
}

/** Calls to pricing that ended with a deadline, summed over the catalog instances. */
async function catalogDeadlines(shop: Shop): Promise<number> {
  let total = 0;
  for (const p of shop.instances.values()) {
    const mode = (await (await fetch(`http://127.0.0.1:${p.port}/_demo/mode`)).json()) as {
      deadlineExceeded?: number;
    };
    total += mode.deadlineExceeded ?? 0;
  }
  return total;
}

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('catalog never reached pricing');
}

/** Pricing's counts once its cancellations reach `cancelled` (they land as connections close). */
async function waitForCount(
  mode: () => Promise<{ answered: number; cancelled: number }>,
  cancelled: number,
): Promise<{ answered: number; cancelled: number }> {
  let last = await mode();
  for (let i = 0; i < 40 && last.cancelled < cancelled; i++) {
    await new Promise((r) => setTimeout(r, 25));
    last = await mode();
  }
  return last;
}
