// A long agent outage under load: the agent stays down until the gateway's watch has failed 7
// times (its backoff at the 10 s cap), then restarts. Issue 15: a rule written once Consul answers
// again is applied within 2 s (the reachability probe ends the backoff), not up to 10 s later.
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsulCluster } from '@meshless/consul/testing';
import { eventually } from '../../test/helpers/consul-plain.ts';
import { startFleet, trackEndpoints } from '../lib/fleet.ts';
import { failedOf, mixedCall, pacedLoad } from '../lib/paced-load.ts';
import { atMost, type ChaosScenario, check } from '../lib/scenario.ts';

const FAILURES = 7;

export const longOutage: ChaosScenario = {
  name: 'long-outage',
  fault: 'agent down until the backoff is at its 10 s cap',
  fast: false,
  timeoutMs: 90_000,
  async run(ctx) {
    // One server agent with a data directory (not dev mode): restarted, it keeps its catalog and
    // KV as a real agent does, so the backends stay registered through the outage.
    const agent = await ConsulCluster.start({ servers: 1, clientAgents: 0 });
    ctx.defer(() => agent.close());
    const fleet = await startFleet(ctx, 'long', agent.serverAddress(0));
    const { gateway, client } = fleet;
    let done = false;
    const loadStart = performance.now();
    const endpointChanges = trackEndpoints(ctx, client, loadStart);
    const load = pacedLoad({
      rate: 50,
      count: 3000,
      until: () => done,
      call: mixedCall((p, init) => client.fetch(p, init)),
    });
    await sleep(500);
    await agent.kill(0);
    const killed = performance.now();
    await eventually(
      () => gateway.status().consul.watch.failures >= FAILURES,
      40_000,
      `${FAILURES} failures`,
    );
    const downMs = performance.now() - killed;
    const failures = gateway.status().consul.watch.failures;
    await agent.restart(0);
    const answering = performance.now();
    const { key, modifyIndex } = await fleet.putRule('policies', { timeoutMs: 2500 });
    let appliedMs = Number.NaN;
    await eventually(() => fleet.applied(key, modifyIndex), 12_000, 'the rule applied').then(
      () => {
        appliedMs = performance.now() - answering;
      },
      () => {},
    );
    await eventually(() => client.status().endpoints === 2, 10_000, 'both backends again').catch(() => {});
    await sleep(500);
    done = true;
    const result = await load;
    const reachable = gateway.status().consul.reachable;
    return {
      checks: [
        check(
          `no call fails through ${Math.round(downMs / 1000)} s down and the restart`,
          failedOf(result),
          result.failed === 0,
        ),
        atMost(
          `a rule written after the restart is applied within 2 s of Consul answering (${failures} failures)`,
          appliedMs,
          2000,
        ),
        check('status says Consul is reachable again', `reachable: ${reachable}`, reachable),
      ],
      figures: {
        calls: result.calls,
        failed: result.failed,
        errors: result.errors,
        downMs,
        watchFailures: failures,
        appliedAfterAnsweringMs: appliedMs,
        // On the load's clock (ms after it began), to place the failures.
        failedAtMs: result.failedAt,
        killedAtMs: killed - loadStart,
        answeredAtMs: answering - loadStart,
        endpointChanges,
      },
    };
  },
};
