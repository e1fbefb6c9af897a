// A short agent outage under load: kill -9 of the agent (one server with its data directory),
// 3 s down, restart on the same data and ports. Calls go on from the endpoints the gateway holds;
// the watches back off without a busy loop; a rule written once the agent answers again is
// applied within 2 s.
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsulCluster } from '@meshless/consul/testing';
import { eventually } from '../../test/helpers/consul-plain.ts';
import { startFleet, trackEndpoints } from '../lib/fleet.ts';
import { failedOf, mixedCall, pacedLoad } from '../lib/paced-load.ts';
import { atMost, type ChaosScenario, check } from '../lib/scenario.ts';

const DOWN_MS = 3000;

export const agentOutage: ChaosScenario = {
  name: 'agent-outage',
  fault: 'agent kill -9, 3 s down, restart',
  fast: true,
  timeoutMs: 60_000,
  async run(ctx) {
    // One server agent with a data directory (not dev mode): restarted, it keeps its catalog and
    // KV as a real agent does, so the backends stay registered through the outage.
    const agent = await ConsulCluster.start({ servers: 1, clientAgents: 0 });
    ctx.defer(() => agent.close());
    const fleet = await startFleet(ctx, 'outage', agent.serverAddress(0));
    const { gateway, client } = fleet;
    let done = false;
    const loadStart = performance.now();
    const endpointChanges = trackEndpoints(ctx, client, loadStart);
    const load = pacedLoad({
      rate: 100,
      count: 3000,
      until: () => done,
      call: mixedCall((p, init) => client.fetch(p, init)),
    });
    await sleep(1000);
    await agent.kill(0);
    const before = gateway.status().consul.watch.requests;
    await sleep(DOWN_MS);
    const watchRequests = gateway.status().consul.watch.requests - before;
    const unreachable = gateway.status().consul.reachable === false;
    await agent.restart(0); // resolves once the agent answers with a leader
    const answering = performance.now();
    const { key, modifyIndex } = await fleet.putRule('policies', { timeoutMs: 2500 });
    let appliedMs = Number.NaN;
    await eventually(() => fleet.applied(key, modifyIndex), 10_000, 'the rule applied').then(
      () => {
        appliedMs = performance.now() - answering;
      },
      () => {},
    );
    await eventually(() => client.status().endpoints === 2, 10_000, 'both backends again').catch(() => {});
    const endpointsBackMs = performance.now() - answering;
    await sleep(500);
    done = true;
    const result = await load;
    return {
      checks: [
        check('no call fails through the outage and the restart', failedOf(result), result.failed === 0),
        atMost('no busy loop: watch requests in 3 s down', watchRequests, 12, 'requests'),
        check('status says Consul is unreachable while down', `reachable: ${!unreachable}`, unreachable),
        atMost('a rule written after the restart is applied within 2 s of Consul answering', appliedMs, 2000),
      ],
      figures: {
        calls: result.calls,
        failed: result.failed,
        // On the load's clock (ms after it began), to place the failures.
        failedAtMs: result.failedAt,
        answeredAtMs: answering - loadStart,
        endpointChanges,
        errors: result.errors,
        watchRequestsWhileDown: watchRequests,
        appliedAfterAnsweringMs: appliedMs,
        endpointsBackAfterAnsweringMs: endpointsBackMs,
      },
    };
  },
};
