// The client agent the meshes talk to restarted under load (SIGTERM, as a service manager restarts
// it): it leaves the cluster, so the servers drop its node's services until it syncs them again.
// The watches recover; a rule written once the agent answers is applied within 2 s; calls fail
// only while Consul itself lists no instance (MESHLESS_NO_HEALTHY_ENDPOINT), for no other reason.
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../test/helpers/consul-plain.ts';
import { startClusterFleet } from '../lib/fleet.ts';
import { failedOf, mixedCall, pacedLoad } from '../lib/paced-load.ts';
import { atMost, type ChaosScenario, check } from '../lib/scenario.ts';

export const clusterClientRestart: ChaosScenario = {
  name: 'cluster-client-restart',
  fault: 'client agent restart (SIGTERM) under load',
  fast: false,
  timeoutMs: 90_000,
  async run(ctx) {
    const { cluster, fleet } = await startClusterFleet(ctx, 'client');
    const { gateway, client } = fleet;
    let done = false;
    const load = pacedLoad({
      rate: 100,
      count: 4000,
      until: () => done,
      call: mixedCall((p, init) => client.fetch(p, init)),
    });
    await sleep(1000);
    const before = gateway.status().consul.watch.index;
    const restarted = performance.now();
    await cluster.restartClient(); // returns once the agent answers with a leader
    const answeredAt = performance.now();
    const { key, modifyIndex } = await fleet.putRule('policies', { timeoutMs: 1500 });
    let appliedMs = Number.NaN;
    await eventually(() => fleet.applied(key, modifyIndex), 10_000, 'the rule after the restart')
      .then(() => {
        appliedMs = performance.now() - answeredAt;
      })
      .catch(() => {});
    await eventually(() => client.status().endpoints === 2, 10_000, 'both endpoints again').catch(() => {});
    const endpointsBackMs = performance.now() - answeredAt;
    await sleep(1000);
    done = true;
    const result = await load;
    const other = Object.keys(result.errors).filter((code) => code !== 'MESHLESS_NO_HEALTHY_ENDPOINT');
    return {
      checks: [
        check(
          'calls fail only while Consul lists no instance (no other error)',
          failedOf(result),
          other.length === 0,
        ),
        atMost(
          'a rule written after the restart is applied within 2 s of the agent answering',
          appliedMs,
          2000,
        ),
        check(
          'the watches recovered: a newer index, both endpoints back, reachable',
          `index ${before} -> ${gateway.status().consul.watch.index}, ${client.status().endpoints} endpoints, reachable: ${gateway.status().consul.reachable}`,
          gateway.status().consul.watch.index > before &&
            client.status().endpoints === 2 &&
            gateway.status().consul.reachable,
        ),
      ],
      figures: {
        calls: result.calls,
        failed: result.failed,
        failedAtMs: result.failedAt,
        errors: result.errors,
        restartMs: answeredAt - restarted,
        appliedAfterAnsweringMs: appliedMs,
        endpointsBackAfterAnsweringMs: endpointsBackMs,
      },
    };
  },
};
