import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { testNames, useConnectAgent } from './helpers/connect-agent.ts';
import { eventually, putApplied } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { startZtService } from './helpers/zero-trust-services.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();
const agent = useConnectAgent({ acl: true });

const names = () => testNames('zt', ['api', 'web'] as const);

async function call(mesh: import('meshless').Mesh, service: string, path = '/hello') {
  const res = await mesh.client(service).fetch(path);
  return { status: res.status, body: await res.text() };
}

describe('zero trust on a real Consul with ACLs default deny', () => {
  it('two services talk over mutual TLS once an intention allows it, and the handler sees the caller', async () => {
    const n = names();
    const api = await startZtService(agent, n.api, n.prefix, cleanup);
    const web = await startZtService(agent, n.web, n.prefix, cleanup);
    await eventually(() => web.mesh.client(n.api).status().endpoints > 0, 5000, 'api discovered');
    // Default deny: no intention yet.
    const denied = await call(web.mesh, n.api);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toEqual({ error: 'intention_denied', code: 'MESHLESS_INTENTION_DENIED' });
    const started = Date.now();
    await agent.addIntention(n.web, n.api, 'allow');
    await eventually(
      async () => (await call(web.mesh, n.api)).status === 200,
      1000,
      'allowed within a second',
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await call(web.mesh, n.api, '/x')).body).toBe(`${n.api}:/x`);
    const td = (await agent.roots()).trustDomain;
    expect(api.peers.at(-1)).toBe(`spiffe://${td}/ns/default/dc/dc1/svc/${n.web}`);
  }, 30_000);

  it('keys per-caller limits by the certificate, not by the caller header it sends', async () => {
    const n = names();
    const api = await startZtService(agent, n.api, n.prefix, cleanup);
    await agent.addIntention(n.web, n.api, 'allow');
    const connection = new ConsulConnection({ address: agent.address, token: agent.masterToken });
    cleanup(() => connection.close());
    await putApplied(new ConsulKv(connection), api.mesh, `${n.prefix}/services/${n.api}/inbound`, {
      rateLimit: { perSecond: 0.001, burst: 2, perCaller: true },
    });
    // web's own certificate, from Consul, in a raw client that claims a new caller name each time.
    const leaf = await agent.leaf(n.web, agent.masterToken);
    const { rootsPem } = await agent.roots();
    const raw = new Agent({
      connect: { cert: leaf.certPem, key: leaf.keyPem, ca: rootsPem, checkServerIdentity: () => undefined },
    });
    cleanup(() => raw.close());
    const statuses: number[] = [];
    for (const claimed of ['a', 'b', 'c', 'd']) {
      const res = await raw.request({
        origin: `https://127.0.0.1:${api.port}`,
        path: '/',
        method: 'GET',
        headers: { 'x-meshless-caller': claimed },
      });
      await res.body.text();
      statuses.push(res.statusCode);
    }
    // One bucket (web's), whatever the header: a burst of 2, then limited.
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(api.peers.slice(-2)).toEqual([
      expect.stringMatching(new RegExp(`/svc/${n.web}$`)),
      expect.stringMatching(new RegExp(`/svc/${n.web}$`)),
    ]);
  }, 30_000);

  it('closes without a warning: its watches stop before the Consul connection does', async () => {
    const n = names();
    const lines: string[] = [];
    const record = (level: string) => (message: string) => lines.push(`${level} ${message}`);
    const logger = { debug: () => {}, info: () => {}, warn: record('warn'), error: record('error') };
    const api = await startZtService(agent, n.api, n.prefix, () => {}, { logger });
    expect(api.mesh.status().zeroTrust?.intentions.loaded).toBe(true);
    await new Promise<void>((resolve) => api.server.close(() => resolve()));
    await api.mesh.close();
    expect(lines).toEqual([]);
  }, 30_000);
});
