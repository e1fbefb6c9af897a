// A backend SIGKILLed mid-load (issue 10): three instances of a service, each its own process with
// a 10 s TTL check, behind a gateway with default settings (no rule at all); 200 calls/s for 3 s,
// half GET, half POST; at 1 s the instance that carried the most traffic in the last 250 ms is
// killed. Consul lists it as passing for the whole run: only the client can route around it.
import { ConsulConnection } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import type { Endpoint } from 'meshless';
import { eventually, uniquePrefix } from '../../test/helpers/consul-plain.ts';
import { type InstanceProcess, startInstanceProcess } from '../../test/helpers/instance-process.ts';
import { startGatewayAt } from '../../test/helpers/loopback-backend.ts';
import { failedOf, mixedCall, pacedLoad } from '../lib/paced-load.ts';
import { type ChaosScenario, check, round } from '../lib/scenario.ts';

const RATE = 200;
const CALLS = 600;
const KILL_AT = 200;

export const instanceKill: ChaosScenario = {
  name: 'instance-kill',
  fault: 'kill -9 of 1 of 3 backends at 200 req/s',
  fast: true,
  timeoutMs: 60_000,
  async run({ defer }) {
    const agent = await ConsulDevAgent.start();
    defer(() => agent.stop());
    const connection = new ConsulConnection({ address: agent.address });
    defer(() => connection.close());
    const service = `kill-${uniquePrefix().slice(-8)}`;
    const instances = await Promise.all(
      ['a', 'b', 'c'].map((n) => startInstanceProcess(agent.address, service, `${service}-${n}`)),
    );
    for (const instance of instances) defer(() => instance.kill());
    const attempts: { at: number; id: string }[] = [];
    const gateway = await startGatewayAt(agent.address, uniquePrefix('kill'), {
      observers: {
        client: {
          onAttempt: (_s: string, ep: Endpoint) => attempts.push({ at: performance.now(), id: ep.id }),
        },
      },
    });
    defer(() => gateway.close());
    const client = gateway.client(service);
    await eventually(
      async () => {
        await (await client.fetch('/warmup')).arrayBuffer();
        return client.status().endpoints === 3;
      },
      10_000,
      '3 endpoints',
    );
    for (let i = 0; i < 30; i++) await (await client.fetch(`/warm/${i}`)).arrayBuffer();

    let victim: InstanceProcess = instances[0]!;
    let killedAt = Number.NaN;
    let ejectedAt = Number.NaN;
    const isVictim = (id: string) => id.endsWith(victim.id);
    const load = await pacedLoad({
      rate: RATE,
      count: CALLS,
      call: mixedCall((path, init) => client.fetch(path, init)),
      beforeSend: (i) => {
        if (i !== KILL_AT) return;
        const since = performance.now() - 250;
        const recent = (inst: InstanceProcess) =>
          attempts.filter((a) => a.at > since && a.id.endsWith(inst.id)).length;
        victim = instances.reduce((best, inst) => (recent(inst) > recent(best) ? inst : best));
        killedAt = performance.now();
        void victim.kill();
        // Time to eject: when the client's outlier detection first lists the victim.
        const poll = setInterval(() => {
          if (client.status().ejected.some(isVictim)) {
            ejectedAt = performance.now();
            clearInterval(poll);
          }
        }, 5);
        setTimeout(() => clearInterval(poll), 3000).unref();
      },
    });
    const after = attempts.filter((a) => a.at > killedAt && isVictim(a.id));
    const lastMs = after.length ? after[after.length - 1]!.at - killedAt : 0;
    const ejectMs = ejectedAt - killedAt;
    return {
      checks: [
        check(
          'under 1% of calls fail (no rule: the connect error is retried on another endpoint)',
          failedOf(load),
          load.failed < load.calls / 100,
        ),
        check(
          'the dead instance gets no attempt later than 1 s after the kill (avoided or ejected)',
          `last ${round(lastMs)} ms after (${after.length} attempt(s)); ${
            Number.isNaN(ejectMs) ? 'not ejected (too few failures)' : `ejected at ${round(ejectMs)} ms`
          }`,
          lastMs <= 1000,
        ),
      ],
      figures: {
        calls: load.calls,
        failed: load.failed,
        errors: load.errors,
        attemptsAfterKill: after.length,
        killToLastAttemptMs: lastMs,
        killToEjectedMs: Number.isNaN(ejectMs) ? null : ejectMs,
      },
    };
  },
};
