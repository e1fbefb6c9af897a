import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startBackend, startGateway } from './helpers/backends.ts';
import { eventually, kvClient, putApplied, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('outlier detection in metrics', () => {
  it('counts an ejection of an instance that refuses connections, and shows it ejected', async () => {
    const prefix = uniquePrefix('eject');
    const service = `stock-${prefix.slice(-8)}`;
    const live = await startBackend(service, 'v1', 'a', { prefix });
    cleanup(() => live.stop());
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    // Registered and passing, but nothing listens: every connection is refused.
    const deadId = `${service}-dead`;
    await connection.json({
      method: 'PUT',
      path: '/v1/agent/service/register',
      body: JSON.stringify({ ID: deadId, Name: service, Address: '127.0.0.1', Port: await deadPort() }),
    });
    cleanup(async () => {
      await connection.request({ method: 'PUT', path: `/v1/agent/service/deregister/${deadId}` });
    });
    const gateway = await startGateway(prefix);
    cleanup(() => gateway.close());
    // Round robin keeps sending the dead one its turn, so the connect-error run builds up.
    await putApplied(kv, gateway, `${prefix}/services/${service}/balancer`, { algorithm: 'round-robin' });
    const client = gateway.client(service);
    await eventually(async () => {
      await (await client.fetch('/')).arrayBuffer();
      return client.status().endpoints === 2;
    });
    for (let i = 0; i < 12; i++) expect((await client.fetch('/')).status).toBe(200);

    expect(client.status().ejected).toEqual([expect.stringContaining(deadId)]);
    const text = await gateway.metrics();
    expect(text).toContain(`meshless_outlier_ejections_total{service="${service}"} 1`);
    expect(text).toContain(`meshless_endpoints_ejected{service="${service}"} 1`);
  });
});
