// Leader loss on a real 3-server cluster (127.0.0.2-4, raft_multiplier 1) with a client agent
// (127.0.0.5) that the meshes talk to: kill -9 of the leader under 100 calls/s. A rule written just
// around the kill (retried until a leader accepts it) and one written after the election must both
// be applied: no call and no rule update lost.
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../test/helpers/consul-plain.ts';
import { startClusterFleet } from '../lib/fleet.ts';
import { failedOf, mixedCall, pacedLoad } from '../lib/paced-load.ts';
import { atMost, type ChaosScenario, check, round } from '../lib/scenario.ts';

export const clusterLeaderKill: ChaosScenario = {
  name: 'cluster-leader-kill',
  fault: 'kill -9 of the Raft leader (3 servers)',
  fast: true,
  timeoutMs: 90_000,
  async run(ctx) {
    const { cluster, fleet } = await startClusterFleet(ctx, 'leader');
    const { client } = fleet;
    let done = false;
    const load = pacedLoad({
      rate: 100,
      count: 3000,
      until: () => done,
      call: mixedCall((p, init) => client.fetch(p, init)),
    });
    await sleep(1000);
    const leader = await cluster.waitForLeader(10_000);
    const around = fleet.putRule('policies', { timeoutMs: 2500 });
    await cluster.kill(leader);
    const killed = performance.now();
    const next = await cluster.waitForLeader(30_000);
    const electionMs = performance.now() - killed;
    const written = performance.now();
    const after = await fleet.putRule('balancer', { algorithm: 'round-robin' });
    let appliedMs = Number.NaN;
    await eventually(() => fleet.applied(after.key, after.modifyIndex), 10_000, 'the rule after the election')
      .then(() => {
        appliedMs = performance.now() - written;
      })
      .catch(() => {});
    const aroundRule = await around;
    const aroundApplied = await eventually(
      () => fleet.applied(aroundRule.key, aroundRule.modifyIndex),
      10_000,
      'the rule written around the kill',
    ).then(
      () => true,
      () => false,
    );
    await sleep(1000); // calls on the new leader's cluster for a while
    done = true;
    const result = await load;
    return {
      checks: [
        check('no call fails through the election', failedOf(result), result.failed === 0),
        atMost('a new leader within 15 s (raft_multiplier 1)', electionMs, 15_000),
        atMost('a rule written after the election is applied within 2 s of its write', appliedMs, 2000),
        check(
          'the rule written around the kill is applied too (no update lost)',
          aroundApplied ? 'applied' : 'not applied in 10 s',
          aroundApplied && next !== leader,
        ),
      ],
      figures: {
        calls: result.calls,
        failed: result.failed,
        errors: result.errors,
        killedLeader: leader,
        newLeader: next,
        electionMs: round(electionMs),
        appliedAfterWriteMs: appliedMs,
      },
    };
  },
};
