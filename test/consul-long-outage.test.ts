import { BlockingWatch, ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// This test crashes and restarts its own agent; the shared one is never touched.
const cleanup = useCleanupsAndNoUnhandledRejections();

describe('recovery after a long Consul outage', () => {
  it('applies a rule written after Consul returns within 2 s of the agent answering, though the backoff is at its cap', async () => {
    const agent = await ConsulDevAgent.start();
    cleanup(() => agent.stop());
    const service = 'ledger';
    const mesh = await createMesh({
      consul: { address: agent.address },
      cacheDir: false,
      logger: 'silent',
      service: { name: service, port: 9301, address: '127.0.0.1', drainMs: 0 },
    });
    cleanup(() => mesh.close());
    // For comparison, the same watch with the plain backoff (no probe): measured, not asserted.
    const plainConnection = new ConsulConnection({ address: agent.address });
    cleanup(() => plainConnection.close());
    let plainSeen = 0;
    const plain = new BlockingWatch({
      connection: plainConnection,
      path: '/v1/kv/meshless/',
      query: { recurse: true },
      acceptStatus: [404],
      parse: (res) => res.index ?? 0,
      onChange: (index) => {
        plainSeen = index;
      },
      recoverEarly: false,
    });
    cleanup(async () => {
      plain.dispose();
      await plain.done;
    });
    await eventually(() => mesh.status().consul.watch.index > 0, 5000, 'first answer');

    await agent.kill9();
    const killed = Date.now();
    // Down until the backoff has reached its 10 s cap (the 7th failure waits 5 .. 10 s).
    await eventually(() => mesh.status().consul.watch.failures >= 7, 25_000, 'seven failures');
    const down = mesh.status().consul.watch;
    expect(down.failures).toBeGreaterThanOrEqual(6);
    expect(mesh.status().consul.reachable).toBe(false);

    await agent.restart(); // returns once the agent answers with a leader
    const answering = Date.now();
    // Dev mode lost its data: write the rule now, as an operator would.
    const connection = new ConsulConnection({ address: agent.address });
    cleanup(() => connection.close());
    const kv = new ConsulKv(connection);
    const key = `meshless/services/${service}/inbound`;
    await kv.put(key, { rateLimit: { perSecond: 100 } });
    const { modifyIndex } = (await kv.get(key))!;
    await eventually(
      () => mesh.status().rules.keys.some((k) => key.endsWith(k.key) && k.appliedIndex === modifyIndex),
      10_000,
      `${key} applied`,
    );
    const applied = Date.now() - answering;
    await eventually(() => plainSeen >= modifyIndex, 12_000, 'the plain watch catching up');
    const plainMs = Date.now() - answering;
    console.info(
      `long outage (${down.failures} failures, down ${answering - killed} ms): rule applied ${applied} ms after Consul answered; plain backoff ${plainMs} ms`,
    );
    expect(applied).toBeLessThanOrEqual(2000);
    expect(mesh.status().consul.reachable).toBe(true);
  }, 60_000);
});
