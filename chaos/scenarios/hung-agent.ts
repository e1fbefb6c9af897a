// A hung agent at start (issue 10): something accepts TCP on the agent's port and never answers.
// A first mesh warms its disk cache against the real agent (a rule and the endpoints of a backend);
// the agent stops and a hung listener takes its port; a new mesh starts with that cache and
// readyTimeoutMs 1000, then serves paced calls from the cached endpoints.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { ConsulDevAgent } from '@meshless/consul/testing';
import { createMesh, policiesSection } from 'meshless';
import { hungAgent } from '../../test/helpers/hung-agent.ts';
import { startBackendAt } from '../../test/helpers/loopback-backend.ts';
import { mixedCall, pacedLoad } from '../lib/paced-load.ts';
import { atMost, type ChaosScenario, check } from '../lib/scenario.ts';

const READY_TIMEOUT_MS = 1000;

export const hungAgentScenario: ChaosScenario = {
  name: 'hung-agent',
  fault: 'agent accepts connections, never answers',
  fast: true,
  timeoutMs: 60_000,
  async run({ defer }) {
    const cacheDir = mkdtempSync(join(tmpdir(), 'meshless-chaos-hung-'));
    defer(() => rmSync(cacheDir, { recursive: true, force: true }));
    const agent = await ConsulDevAgent.start();
    defer(() => agent.stop());
    const address = agent.address;
    const connection = new ConsulConnection({ address });
    const kv = new ConsulKv(connection);
    await kv.put('meshless/services/stock/policies', { timeoutMs: 777 });
    // The backend registers through its own mesh; it keeps serving after the agent hangs.
    const backend = await startBackendAt(address, 'stock', 'v1', 'a');
    defer(() => backend.server.close());
    const warm = await createMesh({ consul: { address }, cacheDir, logger: 'silent' });
    await (await warm.client('stock').fetch('/')).arrayBuffer();
    await warm.close();
    // Stop the backend's mesh while Consul answers (so its close does not wait on a hung agent).
    await backend.mesh.close();
    await connection.close();
    await agent.stop();

    const hung = await hungAgent(agent.ports.http);
    defer(() => hung.close());
    const started = performance.now();
    const mesh = await createMesh({
      consul: { address },
      cacheDir,
      logger: 'silent',
      readyTimeoutMs: READY_TIMEOUT_MS,
      service: { name: 'gateway', port: 1, address: '127.0.0.1', drainMs: 0, ttlMs: 1000 },
    });
    const startMs = performance.now() - started;
    defer(async () => {
      await hung.close(); // so close() is not held up by requests to the hung agent
      await mesh.close();
    });
    const rule = mesh.rules.get(policiesSection, 'stock');
    const origin = mesh.status().rules.origin;
    const client = mesh.client('stock');
    const firstStarted = performance.now();
    const first = await client.fetch('/');
    await first.arrayBuffer();
    const firstMs = performance.now() - firstStarted;
    const load = await pacedLoad({
      rate: 50,
      count: 100,
      call: mixedCall((p, init) => client.fetch(p, init)),
    });
    const reachable = mesh.status().consul.reachable;
    return {
      checks: [
        atMost(
          `createMesh resolves within readyTimeoutMs (${READY_TIMEOUT_MS}) + 500 ms`,
          startMs,
          READY_TIMEOUT_MS + 500,
        ),
        check(
          'the cached rule is in force',
          `origin ${origin}, timeoutMs ${rule?.timeoutMs ?? 'none'}`,
          origin === 'cache' && rule?.timeoutMs === 777,
        ),
        atMost('the first call is served from cached endpoints within 500 ms', firstMs, 500),
        check(
          '100 paced calls on cached endpoints, none failed',
          `${load.failed} failed`,
          first.status === 200 && load.failed === 0,
        ),
        check('status says Consul is unreachable', `reachable: ${reachable}`, reachable === false),
      ],
      figures: {
        startMs,
        firstCallMs: firstMs,
        origin,
        calls: load.calls,
        failed: load.failed,
        errors: load.errors,
      },
    };
  },
};
