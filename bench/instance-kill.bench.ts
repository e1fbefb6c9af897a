// Chaos: kill -9 of one of three instances under load, with default settings (no rule at all).
// Three instances of a service, each in its own process and registered in a real Consul agent
// with a 10 s TTL check (test/fixtures/http-instance.ts, shared with the integration test); a
// gateway mesh sends 200 calls per second for 3 s (half GET, half POST) and at 1 s the instance
// carrying the most traffic then (the last 250 ms) is SIGKILLed. Per run: calls, failed calls, attempts sent to the dead instance after the
// kill, and the time from the kill until the last of them was sent (the client's own view,
// through the attempt observer). Consul still lists the dead instance for the whole run.
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsulConnection } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh, type Endpoint } from 'meshless';
import { type InstanceProcess, startInstanceProcess } from '../test/helpers/instance-process.ts';
import { median, printTable, writeResults } from './lib/measure.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RATE = 200; // calls per second
const CALLS = 600; // 3 s
const KILL_AT = 200; // 1 s in

const agent = await ConsulDevAgent.start();
const connection = new ConsulConnection({ address: agent.address });

type Instance = InstanceProcess;
const startInstance = (service: string, id: string) => startInstanceProcess(agent.address, service, id);

interface RunResult {
  calls: number;
  failed: number;
  /** Attempts to the victim in the 250 ms before the kill. */
  attemptsBeforeKill: number;
  /** Attempts (first sends and failovers) to the dead instance after the kill. */
  attemptsAfterKill: number;
  /** From the kill to the last attempt sent to the dead instance (0: none after the kill). */
  lastAttemptMs: number;
  /** Sends beyond one per call (failovers after connect errors). */
  extraSends: number;
  ejected: boolean;
  errors: string[];
  /** When each attempt to the dead instance was sent, in ms after the kill. */
  victimTimes: number[];
}

async function run(index: number): Promise<RunResult> {
  const service = `kill-bench-${index}`;
  const instances = await Promise.all(['a', 'b', 'c'].map((n) => startInstance(service, `${service}-${n}`)));
  let victim = instances[0]!;
  let attempts = 0;
  let afterKill = 0;
  let lastToVictim = Number.NaN;
  let killedAt = Number.NaN;
  const victimTimes: number[] = [];
  // Attempts per instance in the window before the kill (to choose the busiest).
  const recent = new Map<string, number[]>();
  const gateway = await createMesh({
    consul: { address: agent.address },
    prefix: `bench-kill-${index}`,
    cacheDir: false,
    logger: 'silent',
    service: { name: 'gateway', port: 1, register: false },
    observers: {
      client: {
        onAttempt: (_s: string, ep: Endpoint) => {
          attempts++;
          if (Number.isNaN(killedAt)) {
            const list = recent.get(ep.id) ?? [];
            list.push(performance.now());
            recent.set(ep.id, list);
            return;
          }
          if (!ep.id.endsWith(victim.id)) return;
          afterKill++;
          lastToVictim = performance.now();
          victimTimes.push(Math.round((lastToVictim - killedAt) * 10) / 10);
        },
      },
    },
  });
  const client = gateway.client(service);
  for (let i = 0; i < 30; i++) await (await client.fetch(`/warm/${i}`)).arrayBuffer();
  if (client.status().endpoints !== 3)
    throw new Error(`expected 3 endpoints, got ${client.status().endpoints}`);
  attempts = 0;
  let beforeKill = 0;
  let failed = 0;
  const errors: string[] = [];
  const calls: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const wait = start + (i * 1000) / RATE - performance.now();
    if (wait > 0) await sleep(wait);
    if (i === KILL_AT) {
      const since = performance.now() - 250;
      const load = (inst: Instance) =>
        [...recent].filter(([id]) => id.endsWith(inst.id)).flatMap(([, t]) => t.filter((at) => at > since))
          .length;
      victim = instances.reduce((best, inst) => (load(inst) > load(best) ? inst : best));
      beforeKill = load(victim);
      killedAt = performance.now();
      victim.child.kill('SIGKILL');
    }
    const init = i % 2 === 0 ? {} : { method: 'POST', body: JSON.stringify({ i }) };
    calls.push(
      client.fetch(`/items/${i}`, init).then(
        async (res) => {
          await res.arrayBuffer();
          if (res.status !== 200) failed++;
        },
        (error: unknown) => {
          failed++;
          if (errors.length < 5) errors.push(String((error as { code?: unknown }).code ?? error));
        },
      ),
    );
  }
  await Promise.all(calls);
  const ejected = client.status().ejected.some((id) => id.endsWith(victim.id));
  await gateway.close();
  for (const instance of instances) {
    if (instance.child.exitCode === null && instance.child.signalCode === null)
      instance.child.kill('SIGKILL');
    await instance.exited;
    await connection.json({ method: 'PUT', path: `/v1/agent/service/deregister/${instance.id}` });
  }
  return {
    calls: CALLS,
    failed,
    attemptsBeforeKill: beforeKill,
    attemptsAfterKill: afterKill,
    lastAttemptMs: afterKill === 0 ? 0 : lastToVictim - killedAt,
    extraSends: attempts - CALLS,
    ejected,
    errors,
    victimTimes,
  };
}

const results: RunResult[] = [];
for (let i = 0; i < RUNS; i++) {
  results.push(await run(i));
  process.stderr.write(`run ${i + 1}/${RUNS} done\n`);
}
const rows: Record<string, string | number>[] = results.map((r, i) => ({
  run: i + 1,
  calls: r.calls,
  failed: r.failed,
  'failed %': (100 * r.failed) / r.calls,
  'attempts to it, 250 ms before kill': r.attemptsBeforeKill,
  'attempts to it after kill': r.attemptsAfterKill,
  'kill -> last attempt to it (ms)': r.lastAttemptMs,
  'failovers (extra sends)': r.extraSends,
  ejected: r.ejected ? 'yes' : 'no',
  errors: r.errors.join(' '),
}));
const spread = (pick: (r: RunResult) => number) => {
  const v = results.map(pick);
  return `${median(v).toFixed(1)} (${Math.min(...v).toFixed(1)}..${Math.max(...v).toFixed(1)})`;
};
rows.push({
  run: 'median (min..max)',
  calls: CALLS,
  failed: spread((r) => r.failed),
  'failed %': spread((r) => (100 * r.failed) / r.calls),
  'attempts to it, 250 ms before kill': spread((r) => r.attemptsBeforeKill),
  'attempts to it after kill': spread((r) => r.attemptsAfterKill),
  'kill -> last attempt to it (ms)': spread((r) => r.lastAttemptMs),
  'failovers (extra sends)': spread((r) => r.extraSends),
  ejected: `${results.filter((r) => r.ejected).length}/${RUNS}`,
  errors: '',
});
printTable(
  `kill -9 of 1 of 3 instances at ${RATE} req/s (${CALLS} calls, kill after ${KILL_AT}), default settings, ${RUNS} runs`,
  rows,
);
writeResults('instance-kill', { rate: RATE, calls: CALLS, killAt: KILL_AT, runs: results });
await connection.close();
await agent.stop();
