// A short agent outage under load: kill -9 of the (dev) agent, 3 s down, restart on the same
// ports. Calls go on from the endpoints the gateway holds; the watches back off without a busy
// loop; a rule written once the agent answers again is applied within 2 s. A dev agent comes back
// empty: the backends re-register on their next heartbeat (TTL 3 s, so within ~1 s).
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../../test/helpers/consul-plain.ts';
import { startOutageFleet } from '../lib/outage-fleet.ts';
import { mixedCall, pacedLoad } from '../lib/paced-load.ts';
import { atMost, type ChaosScenario, check } from '../lib/scenario.ts';

const DOWN_MS = 3000;

export const agentOutage: ChaosScenario = {
  name: 'agent-outage',
  fault: 'agent kill -9, 3 s down, restart',
  fast: true,
  timeoutMs: 60_000,
  async run(ctx) {
    const fleet = await startOutageFleet(ctx, 'outage');
    const { agent, gateway, client } = fleet;
    let done = false;
    const load = pacedLoad({
      rate: 100,
      count: 3000,
      until: () => done,
      call: mixedCall((p, init) => client.fetch(p, init)),
    });
    await sleep(1000);
    await agent.kill9();
    const before = gateway.status().consul.watch.requests;
    await sleep(DOWN_MS);
    const watchRequests = gateway.status().consul.watch.requests - before;
    const unreachable = gateway.status().consul.reachable === false;
    await agent.restart(); // resolves once the agent answers with a leader
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
        check(
          'no call fails through the outage and the restart',
          `${result.failed} of ${result.calls}${result.errors.length ? ` (${result.errors.join(', ')})` : ''}`,
          result.failed === 0,
        ),
        atMost('no busy loop: watch requests in 3 s down', watchRequests, 12, 'requests'),
        check('status says Consul is unreachable while down', `reachable: ${!unreachable}`, unreachable),
        atMost('a rule written after the restart is applied within 2 s of Consul answering', appliedMs, 2000),
      ],
      figures: {
        calls: result.calls,
        failed: result.failed,
        failedAtMs: result.failedAt,
        errors: result.errors,
        watchRequestsWhileDown: watchRequests,
        appliedAfterAnsweringMs: appliedMs,
        endpointsBackAfterAnsweringMs: endpointsBackMs,
      },
    };
  },
};
