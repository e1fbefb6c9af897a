// Every server of a 3-server cluster killed (-9) under load, then all started again on their data:
// the client agent answers but nothing behind it does. Calls go on from the endpoints the gateway
// holds; status says Consul is unreachable; a rule written once the client agent names a leader
// again is applied within 2 s of that (the reachability probe ends the watch's backoff).
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../test/helpers/consul-plain.ts';
import { clientAnswering, startClusterFleet, trackEndpoints } from '../lib/fleet.ts';
import { failedOf, mixedCall, pacedLoad } from '../lib/paced-load.ts';
import { atMost, type ChaosScenario, check } from '../lib/scenario.ts';

export const clusterAllDown: ChaosScenario = {
  name: 'cluster-all-down',
  fault: 'all 3 servers kill -9, then back',
  fast: false,
  timeoutMs: 90_000,
  async run(ctx) {
    const { cluster, fleet } = await startClusterFleet(ctx, 'alldown');
    const { gateway, client } = fleet;
    let done = false;
    const loadStart = performance.now();
    const load = pacedLoad({
      rate: 100,
      count: 4000,
      until: () => done,
      call: mixedCall((p, init) => client.fetch(p, init)),
    });
    const endpointChanges = trackEndpoints(ctx, client, loadStart);
    await sleep(1000);
    await cluster.killAll();
    const killed = performance.now();
    await eventually(() => gateway.status().consul.watch.failures >= 3, 20_000, 'three watch failures');
    await sleep(Math.max(0, 3000 - (performance.now() - killed))); // down for 3 s at least
    const downMs = performance.now() - killed;
    const unreachable = gateway.status().consul.reachable === false;
    const endpointsDown = client.status().endpoints;
    const answering = clientAnswering(cluster);
    await cluster.startAll(30_000);
    const answeredAt = await answering;
    const { key, modifyIndex } = await fleet.putRule('policies', { timeoutMs: 1500 });
    let appliedMs = Number.NaN;
    await eventually(() => fleet.applied(key, modifyIndex), 10_000, 'the rule after the outage')
      .then(() => {
        appliedMs = performance.now() - answeredAt;
      })
      .catch(() => {});
    await sleep(1000);
    done = true;
    const result = await load;
    const reachable = gateway.status().consul.reachable;
    return {
      checks: [
        check('no call fails while no server runs, nor after', failedOf(result), result.failed === 0),
        check(
          'while down: status says unreachable, the last endpoints stay',
          `reachable: ${!unreachable}, endpoints: ${endpointsDown} (after ${Math.round(downMs)} ms)`,
          unreachable && endpointsDown === 2,
        ),
        atMost(
          'a rule written after the restart is applied within 2 s of the agent naming a leader',
          appliedMs,
          2000,
        ),
        check('status says reachable again', `reachable: ${reachable}`, reachable),
      ],
      figures: {
        calls: result.calls,
        failed: result.failed,
        errors: result.errors,
        downMs,
        appliedAfterAnsweringMs: appliedMs,
        // On the load's clock (ms after it began), to place the failures.
        failedAtMs: result.failedAt,
        killedAtMs: killed - loadStart,
        endpointChanges,
        answeredAtMs: answeredAt - loadStart,
      },
    };
  },
};
