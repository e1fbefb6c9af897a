import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulCluster } from '@meshless/consul/testing';
import type { Mesh } from 'meshless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startGateway } from './helpers/backends.ts';
import { eventually, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { pacedCalls } from './helpers/paced-calls.ts';

// A real 3-server Consul cluster (127.0.0.2-4) and a client agent (127.0.0.5) that every mesh
// here talks to, as an application talks to its node's agent. raft_multiplier = 1: an election
// takes 2-3 s (Consul's default 5 makes it several times longer; see docs/operators-guide.md).
const cleanup = useCleanupsAndNoUnhandledRejections();
let cluster: ConsulCluster;

beforeAll(async () => {
  cluster = await ConsulCluster.start({ servers: 3, raftMultiplier: 1, clientAgents: 1 });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

/** Retries `op` until Consul accepts it (it refuses writes during an election: 500 No cluster leader). */
async function untilAccepted<T>(what: string, op: () => Promise<T>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (let attempts = 1; ; attempts++) {
    try {
      return { value: await op(), attempts };
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: not accepted in ${timeoutMs} ms: ${error}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Writes `doc` (retried until Consul accepts it); the ModifyIndex it got and the attempts it took. */
async function writeRule(kv: ConsulKv, key: string, doc: object) {
  const { attempts } = await untilAccepted(`PUT ${key}`, () => kv.put(key, doc));
  const { value: entry } = await untilAccepted(`GET ${key}`, () => kv.get(key));
  return { index: entry!.modifyIndex, attempts };
}

function appliedIndex(mesh: Mesh, key: string): number | undefined {
  // Keys are reported whole (prefix included), as putApplied in helpers/consul.ts reads them.
  return mesh.status().rules.keys.find((k) => key.endsWith(k.key))?.appliedIndex;
}

/** Two backends of a fresh service, a gateway mesh calling it, a KV client, all via the client agent. */
async function shop(label: string) {
  const prefix = uniquePrefix(label);
  const service = `stock-${prefix.slice(-8)}`;
  const consul = { address: cluster.clientAddress };
  const backends = await Promise.all(
    ['a', 'b'].map((n) => startBackend(service, 'v1', `${label}-${n}`, { prefix, consul })),
  );
  cleanup(async () => {
    await Promise.all(backends.map((b) => b.stop()));
  });
  const gateway = await startGateway(prefix, { consul });
  cleanup(() => gateway.close());
  const connection = new ConsulConnection({ address: cluster.clientAddress });
  cleanup(() => connection.close());
  const kv = new ConsulKv(connection, { timeoutMs: 2000 });
  const client = gateway.client(service);
  await client.fetch('/warmup');
  await eventually(() => client.status().endpoints === 2, 10_000, 'both endpoints');
  const key = (section: string) => `${prefix}/services/${service}/${section}`;
  return { backends, gateway, client, kv, key };
}

/** Puts every server back and waits for a leader (last, after the test's own cleanups). */
function restoreCluster(): void {
  cleanup(async () => {
    await cluster.startAll(30_000);
  });
}

describe('meshless on a 3-server Consul cluster', () => {
  it('loses no call and no rule update when the leader is killed (-9) under load', async () => {
    restoreCluster();
    const { backends, gateway, client, kv, key } = await shop('leader');
    const load = pacedCalls(client);
    cleanup(() => load.stop());
    await eventually(() => load.ok >= 50, 10_000, 'calls flowing');

    const leader = await cluster.waitForLeader(10_000);
    // Written just around the kill: the writer retries until a leader accepts it.
    const around = writeRule(kv, key('policies'), { timeoutMs: 2500 });
    await cluster.kill(leader);
    const killed = Date.now();
    const next = await cluster.waitForLeader(20_000);
    const electionMs = Date.now() - killed;
    expect(next).not.toBe(leader);

    const written = Date.now();
    const { index } = await writeRule(kv, key('balancer'), { algorithm: 'round-robin' });
    await eventually(() => appliedIndex(gateway, key('balancer')) === index, 10_000, 'rule after election');
    const appliedMs = Date.now() - written;
    const { index: aroundIndex, attempts } = await around;
    await eventually(
      () => appliedIndex(gateway, key('policies')) === aroundIndex,
      10_000,
      'rule written around the kill',
    );

    const callsAtElection = load.ok;
    await eventually(() => load.ok >= callsAtElection + 50, 10_000, 'calls after the election');
    await load.stop();
    console.info(
      `cluster leader kill -9 (raft_multiplier 1): new leader in ${electionMs} ms; rule applied ${appliedMs} ms after its write (the one written around the kill: ${attempts} attempt(s)); ${load.ok} calls, ${load.failed} failed`,
    );
    expect(load.failures).toEqual([]);
    expect(backends.every((b) => b.hits > 10)).toBe(true);
    expect(electionMs).toBeLessThan(15_000);
  }, 45_000);

  it('serves the last endpoints while every server is down, and applies a new rule within 2 s of the cluster answering again', async () => {
    restoreCluster();
    const { gateway, client, kv, key } = await shop('outage');
    const load = pacedCalls(client);
    cleanup(() => load.stop());
    await eventually(() => load.ok >= 50, 10_000, 'calls flowing');

    await cluster.killAll();
    // The client agent answers, but nothing behind it does: the watch fails and backs off.
    await eventually(() => gateway.status().consul.watch.failures >= 3, 15_000, 'three watch failures');
    const down = gateway.status();
    expect(down.consul.reachable).toBe(false);
    expect(down.consul.watch.lastError).toBeDefined();
    const callsInOutage = load.ok;
    await eventually(() => load.ok >= callsInOutage + 50, 10_000, 'calls during the outage');
    expect(client.status().endpoints).toBe(2);
    expect(load.failures).toEqual([]); // the outage itself costs no call

    // The cluster "answers again" when the agent the mesh talks to names a leader.
    const agent = cluster.clients[0]!;
    const answering = (async () => {
      while ((await agent.leader()) === undefined) await new Promise((r) => setTimeout(r, 25));
      return Date.now();
    })();
    await cluster.startAll(30_000);
    const answeredAt = await answering;
    const { index } = await writeRule(kv, key('policies'), { timeoutMs: 1500 });
    await eventually(() => appliedIndex(gateway, key('policies')) === index, 10_000, 'rule after the outage');
    const appliedMs = Date.now() - answeredAt;
    await eventually(() => client.status().endpoints === 2, 10_000, 'both endpoints');
    const failedOnReturn = load.failed;
    const after = load.ok;
    await eventually(() => load.ok >= after + 50, 10_000, 'calls after the return');
    await load.stop();
    console.info(
      `cluster all servers down (${down.consul.watch.failures} watch failures): rule applied ${appliedMs} ms after the client agent named a leader again; ${load.ok} calls, ${load.failed} failed (only ever on the return)`,
    );
    expect(appliedMs).toBeLessThanOrEqual(2000);
    expect(gateway.status().consul.reachable).toBe(true);
    // On the return, a leader that has not replayed its log yet can answer a default read from an
    // empty catalog (X-Consul-Index 1, seen in about 1 of 10 full restarts); the watch confirms
    // the first changed answer after a failure with a consistent read, so no call fails for it.
    expect(load.failures).toEqual([]);
    expect(load.failed).toBe(failedOnReturn);
  }, 45_000);

  it('recovers its watches after the client agent restarts, and applies a rule within 2 s of it answering', async () => {
    restoreCluster();
    const { gateway, client, kv, key } = await shop('agent');
    const load = pacedCalls(client);
    cleanup(() => load.stop());
    await eventually(() => load.ok >= 50, 10_000, 'calls flowing');
    const before = gateway.status().consul.watch.index;

    // SIGTERM: the agent leaves, so the servers drop its node's services (both backends here)
    // until it is back and syncs them; Consul answers "no healthy instance" for that moment.
    const restarted = Date.now();
    await cluster.restartClient(); // returns once the agent answers with a leader
    const answeredAt = Date.now();
    const { index } = await writeRule(kv, key('policies'), { timeoutMs: 1500 });
    await eventually(
      () => appliedIndex(gateway, key('policies')) === index,
      10_000,
      'rule after the restart',
    );
    const appliedMs = Date.now() - answeredAt;
    expect(gateway.status().consul.watch.index).toBeGreaterThan(before);
    await eventually(() => client.status().endpoints === 2, 10_000, 'both endpoints again');
    const failedBefore = load.failed;
    const after = load.ok;
    await eventually(() => load.ok >= after + 50, 10_000, 'calls after the restart');
    await load.stop();
    console.info(
      `cluster client agent restart (SIGTERM, ${answeredAt - restarted} ms): rule applied ${appliedMs} ms after the agent answered; ${load.ok} calls, ${load.failed} failed while Consul listed no instance`,
    );
    expect(appliedMs).toBeLessThanOrEqual(2000);
    expect(gateway.status().consul.reachable).toBe(true);
    // Calls fail only while Consul itself lists no instance, never for another reason.
    expect(load.failures.filter((f) => !f.startsWith('MESHLESS_NO_HEALTHY_ENDPOINT '))).toEqual([]);
    expect(load.failed).toBe(failedBefore);
  }, 45_000);

  it('loses no call when the client agent crashes (-9) and comes back, and applies a rule within 2 s of it answering', async () => {
    restoreCluster();
    const { gateway, client, kv, key } = await shop('crash');
    const load = pacedCalls(client);
    cleanup(() => load.stop());
    await eventually(() => load.ok >= 50, 10_000, 'calls flowing');

    // A crash does not leave: the node and its services stay listed while the agent is back
    // within serf's failure detection, and the mesh serves its last list meanwhile.
    await cluster.restartClient(0, 'SIGKILL');
    const answeredAt = Date.now();
    const { index } = await writeRule(kv, key('policies'), { timeoutMs: 1500 });
    await eventually(() => appliedIndex(gateway, key('policies')) === index, 10_000, 'rule after the crash');
    const appliedMs = Date.now() - answeredAt;
    const after = load.ok;
    await eventually(() => load.ok >= after + 50, 10_000, 'calls after the crash');
    await load.stop();
    console.info(
      `cluster client agent kill -9 and restart: rule applied ${appliedMs} ms after the agent answered; ${load.ok} calls, ${load.failed} failed`,
    );
    expect(load.failures).toEqual([]);
    expect(appliedMs).toBeLessThanOrEqual(2000);
    expect(client.status().endpoints).toBe(2);
  }, 45_000);
});
