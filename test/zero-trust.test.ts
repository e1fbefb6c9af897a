import { randomUUID } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectAgent, startConnectAgent } from './helpers/connect-agent.ts';
import { eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { startZtService } from './helpers/zero-trust-services.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();
let agent: ConnectAgent;

beforeAll(async () => {
  agent = await startConnectAgent({ acl: true });
}, 60_000);
afterAll(async () => {
  await agent?.stop();
});

const names = () => {
  const id = randomUUID().slice(0, 8);
  return { api: `api-${id}`, web: `web-${id}`, prefix: `zt-${id}` };
};

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
});
