import { Agent, errors } from 'undici';
import { describe, expect, it } from 'vitest';
import { testNames, useConnectAgent } from './helpers/connect-agent.ts';
import { eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { startZtService, type ZtService } from './helpers/zero-trust-services.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();
const agent = useConnectAgent({ acl: true });

const names = () => testNames('ztf', ['api', 'web', 'impostor'] as const);

/** A raw client holding `cert`/`key` (or none) that trusts this cluster's roots but not any name. */
async function rawClient(identity?: { certPem: string; keyPem: string }): Promise<Agent> {
  const { rootsPem } = await agent.roots();
  const client = new Agent({
    connect: {
      ...(identity ? { cert: identity.certPem, key: identity.keyPem } : {}),
      ca: rootsPem,
      checkServerIdentity: () => undefined,
    },
  });
  cleanup(() => client.close());
  return client;
}

async function get(client: Agent, service: ZtService): Promise<{ status: number; body: string }> {
  const res = await client.request({ origin: `https://127.0.0.1:${service.port}`, path: '/', method: 'GET' });
  return { status: res.statusCode, body: await res.body.text() };
}

/** Consul's own answer: POST /v1/agent/connect/authorize (master token). */
async function consulAuthorize(target: string, clientCertUri: string): Promise<{ Authorized: boolean }> {
  const res = await fetch(`${agent.agent.url}/v1/agent/connect/authorize`, {
    method: 'POST',
    headers: { 'X-Consul-Token': agent.masterToken },
    body: JSON.stringify({ Target: target, ClientCertURI: clientCertUri, ClientCertSerial: '01' }),
    signal: AbortSignal.timeout(10_000),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { Authorized: boolean };
}

describe('zero trust refuses identities it cannot trust, on a real Consul with ACLs default deny', () => {
  it('a well-chained certificate of a foreign trust domain gets 403 though an intention allows its service; a real leaf gets 200', async () => {
    const n = names();
    const api = await startZtService(agent, n.api, n.prefix, cleanup);
    await agent.addIntention(n.web, n.api, 'allow');
    const foreignUri = `spiffe://foreign.consul/ns/default/dc/dc1/svc/${n.web}`;
    // Consul itself would let it in: authorize matches the service name and ignores the trust domain.
    expect((await consulAuthorize(n.api, foreignUri)).Authorized).toBe(true);

    const foreign = await rawClient(await agent.foreignLeaf(foreignUri));
    const refused = await get(foreign, api);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual({ error: 'peer_untrusted', code: 'MESHLESS_PEER_UNTRUSTED' });
    expect(api.peers).toEqual([]);

    const real = await rawClient(await agent.leaf(n.web, agent.masterToken));
    // The intention was written before: the mesh has it within a second (zero-trust.test.ts).
    await eventually(async () => (await get(real, api)).status === 200, 2000, 'the real leaf allowed');
    const td = (await agent.roots()).trustDomain;
    expect(api.peers.at(-1)).toBe(`spiffe://${td}/ns/default/dc/dc1/svc/${n.web}`);
    // And the foreign one stays refused on a new connection too.
    const again = await rawClient(await agent.foreignLeaf(foreignUri));
    expect((await get(again, api)).status).toBe(403);
  }, 30_000);

  it('a TLS client without a certificate is refused in the handshake, never answered', async () => {
    const n = names();
    const api = await startZtService(agent, n.api, n.prefix, cleanup);
    const anonymous = await rawClient();
    const outcome = await get(anonymous, api).then(
      (r) => `status ${r.status}`,
      (error: Error) => error,
    );
    // TLS 1.3: the server's "certificate required" alert arrives after the client's Finished,
    // so undici sees the socket fail (not a connect error); either way no response.
    expect(outcome).toBeInstanceOf(Error);
    expect(
      outcome instanceof errors.SocketError ||
        /certificate|handshake|socket|ECONNRESET/i.test(
          `${(outcome as Error).message} ${String((outcome as { code?: string }).code)}`,
        ),
    ).toBe(true);
    expect(api.peers).toEqual([]);
  }, 30_000);

  it('a caller refuses a server whose certificate names another service than the one it called', async () => {
    const n = names();
    const api = await startZtService(agent, n.api, n.prefix, cleanup);
    const web = await startZtService(agent, n.web, n.prefix, cleanup);
    await agent.addIntention(n.web, n.api, 'allow');
    // An impostor entry in the catalog: Connect-native, pointing at api's port (api's certificate).
    const id = `${n.impostor}-1`;
    const register = await fetch(`${agent.agent.url}/v1/agent/service/register`, {
      method: 'PUT',
      headers: { 'X-Consul-Token': agent.masterToken },
      body: JSON.stringify({
        ID: id,
        Name: n.impostor,
        Address: '127.0.0.1',
        Port: api.port,
        Connect: { Native: true },
      }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(register.status).toBe(200);
    cleanup(async () => {
      await fetch(`${agent.agent.url}/v1/agent/service/deregister/${id}`, {
        method: 'PUT',
        headers: { 'X-Consul-Token': agent.masterToken },
        signal: AbortSignal.timeout(10_000),
      });
    });
    await eventually(() => web.mesh.client(n.impostor).status().endpoints > 0, 5000, 'impostor discovered');
    const failure = await web.mesh
      .client(n.impostor)
      .fetch('/')
      .then(
        (r) => new Error(`answered ${r.status}`),
        (error: Error) => error,
      );
    expect((failure as { code?: string }).code).toBe('MESHLESS_CONNECT_ERROR');
    const cause = (failure as { cause?: Error }).cause;
    expect(cause?.message).toContain(`server is not ${n.impostor}`);
    expect(cause?.message).toContain(`names service ${n.api}`);
    expect(api.peers).toEqual([]);
    // The same mesh still reaches api itself (its pool is per service).
    const res = await web.mesh.client(n.api).fetch('/');
    expect(res.status).toBe(200);
    await res.text();
    expect(api.peers).toHaveLength(1);
  }, 30_000);
});
