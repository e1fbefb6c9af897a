import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectAgent, startConnectAgent } from './helpers/connect-agent.ts';
import { uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

// What the zero-trust end-to-end tests rely on, shown on a real Consul 1.8.7 (Connect on, ACLs on
// with default deny) with node:tls only: no meshless mTLS code is involved here.

const cleanup = useCleanupsAndNoUnhandledRejections();
let ca: ConnectAgent;

beforeAll(async () => {
  ca = await startConnectAgent();
});
afterAll(async () => {
  await ca?.stop();
});

async function consul(ca: ConnectAgent, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`http://${ca.address}${path}`, {
    method,
    headers: { 'X-Consul-Token': token },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: () => JSON.parse(text) };
}

interface Side {
  cert?: string;
  key?: string;
  ca: string[];
}

/**
 * One TLS handshake on loopback: a server that demands a client certificate chained to `server.ca`,
 * a client that checks the server's chain against `client.ca` (no hostname: Connect leaves carry
 * only a URI SAN, the SPIFFE check is meshless's job). Resolves with the outcome as the server saw it.
 */
async function handshake(
  server: Side,
  client: Side,
): Promise<{ ok: boolean; peerSan?: string; error?: string }> {
  const sockets: TLSSocket[] = [];
  const srv = createServer({
    cert: server.cert,
    key: server.key,
    ca: server.ca,
    requestCert: true,
    rejectUnauthorized: true,
  });
  cleanup(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => srv.close(() => r()));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return new Promise((resolve) => {
    srv.once('secureConnection', (s) => {
      sockets.push(s);
      resolve({ ok: true, peerSan: s.getPeerCertificate().subjectaltname });
    });
    srv.once('tlsClientError', (e) => resolve({ ok: false, error: `server: ${e.message}` }));
    const c = connect({
      host: '127.0.0.1',
      port,
      cert: client.cert,
      key: client.key,
      ca: client.ca,
      checkServerIdentity: () => undefined,
    });
    sockets.push(c);
    c.on('error', (e) => resolve({ ok: false, error: `client: ${e.message}` }));
  });
}

const uriOf = (certPem: string) => new X509Certificate(certPem).subjectAltName;
/** True when the first certificate of `chainPem` is signed by the key of `rootPem`. */
const signedBy = (chainPem: string, rootPem: string) =>
  new X509Certificate(chainPem).verify(new X509Certificate(rootPem).publicKey);

describe('startConnectAgent: Consul Connect with ACL default deny', () => {
  it('gives an instance token its own leaf, Connect-native registration and intention reads; not another service leaf', async () => {
    const prefix = uniquePrefix('connect');
    const token = await ca.instanceToken('api', prefix);
    const { trustDomain } = await ca.roots();

    const leaf = await ca.leaf('api', token);
    expect(uriOf(leaf.certPem)).toBe(`URI:spiffe://${trustDomain}/ns/default/dc/dc1/svc/api`);
    expect(new X509Certificate(leaf.certPem).publicKey.asymmetricKeyDetails).toEqual({
      namedCurve: 'prime256v1',
    });

    const reg = await consul(ca, 'PUT', '/v1/agent/service/register', token, {
      Name: 'api',
      ID: 'api-1',
      Port: 9443,
      Address: '127.0.0.1',
      Connect: { Native: true },
    });
    expect(reg.status).toBe(200);
    cleanup(async () => {
      await consul(ca, 'PUT', '/v1/agent/service/deregister/api-1', ca.masterToken);
    });
    // Callers find Connect-native instances here (what says "this target speaks mTLS").
    const native = await consul(ca, 'GET', '/v1/health/connect/api', token);
    expect(native.status).toBe(200);
    expect(
      native
        .json()
        .map((e: { Service: { ID: string; Connect: unknown } }) => [e.Service.ID, e.Service.Connect]),
    ).toEqual([['api-1', { Native: true }]]);

    const id = await ca.addIntention('web', 'api', 'allow');
    cleanup(() => ca.deleteIntention(id));
    const match = await consul(ca, 'GET', '/v1/connect/intentions/match?by=destination&name=api', token);
    expect(match.status).toBe(200);
    expect(
      match
        .json()
        .api.map((i: { ID: string; SourceName: string; Action: string }) => [i.ID, i.SourceName, i.Action]),
    ).toEqual([[id, 'web', 'allow']]);
    const list = await consul(ca, 'GET', '/v1/connect/intentions', token);
    expect(list.status).toBe(200);
    expect(list.json().map((i: { ID: string }) => i.ID)).toContain(id);

    // Least privilege: another service's identity and another service's registration are refused.
    await expect(ca.leaf('billing', token)).rejects.toMatchObject({ status: 403 });
    const other = await consul(ca, 'PUT', '/v1/agent/service/register', token, { Name: 'billing', Port: 1 });
    expect(other.status).toBe(403);
    // The rules prefix: read, and write only under _status/.
    expect((await consul(ca, 'PUT', `/v1/kv/${prefix}/_status/marker`, token, 'x')).status).toBe(200);
    expect((await consul(ca, 'PUT', `/v1/kv/${prefix}/services/api/routes`, token, 'x')).status).toBe(403);
    expect((await consul(ca, 'GET', `/v1/kv/${prefix}/_status/marker`, token)).status).toBe(200);
  });

  it('authorize: default deny by ACLs with no intention; an allow intention matches a foreign trust domain too', async () => {
    const token = await ca.instanceToken('api', uniquePrefix('connect'));
    const { trustDomain } = await ca.roots();
    const authorize = async (clientUri: string) =>
      (
        await consul(ca, 'POST', '/v1/agent/connect/authorize', token, {
          Target: 'api',
          ClientCertURI: clientUri,
          ClientCertSerial: '01',
        })
      ).json() as { Authorized: boolean; Reason: string };

    const local = `spiffe://${trustDomain}/ns/default/dc/dc1/svc/web`;
    expect(await authorize(local)).toEqual({
      Authorized: false,
      Reason: 'Default behavior configured by ACLs',
    });

    const id = await ca.addIntention('web', 'api', 'allow');
    cleanup(() => ca.deleteIntention(id));
    expect((await authorize(local)).Authorized).toBe(true);
    // Consul matches by service name only: a foreign trust domain is allowed as well, which is why
    // meshless checks the trust domain itself.
    expect((await authorize('spiffe://foreign.consul/ns/default/dc/dc1/svc/web')).Authorized).toBe(true);
  });

  it('foreignLeaf: a well-formed chain to this cluster roots, so a TLS server trusting them accepts it', async () => {
    const { rootsPem, trustDomain } = await ca.roots();
    const server = await ca.leaf('api', ca.masterToken);
    const uri = 'spiffe://foreign.consul/ns/default/dc/dc1/svc/web';
    const foreign = await ca.foreignLeaf(uri);

    const cert = new X509Certificate(foreign.certPem);
    expect(cert.subjectAltName).toBe(`URI:${uri}`);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1']);
    expect(rootsPem.some((r) => signedBy(foreign.certPem, r))).toBe(true);

    const seen = await handshake(
      { cert: server.certPem, key: server.keyPem, ca: rootsPem },
      { cert: foreign.certPem, key: foreign.keyPem, ca: rootsPem },
    );
    expect(seen).toEqual({ ok: true, peerSan: `URI:${uri}` });
    expect(uri).not.toContain(trustDomain);

    // The server really demands a client certificate: without one the handshake fails.
    const anonymous = await handshake(
      { cert: server.certPem, key: server.keyPem, ca: rootsPem },
      { ca: rootsPem },
    );
    expect(anonymous).toMatchObject({ ok: false, error: expect.stringMatching(/certificate/i) });
  });

  it('rotateCa: both roots listed, leaves re-issued by the new root within the jitter window, old leaves still verify', async () => {
    const token = await ca.instanceToken('api', uniquePrefix('connect'));
    const before = await ca.roots();
    const oldLeaf = await ca.leaf('api', token);
    const oldRootPem = before.rootsPem.find((r) => signedBy(oldLeaf.certPem, r))!;
    expect(oldRootPem).toBeDefined();

    const t0 = performance.now();
    const { newRootId } = await ca.rotateCa();
    const rootsMs = performance.now() - t0;
    const after = await ca.roots();
    expect(after.activeRootId).toBe(newRootId);
    expect(newRootId).not.toBe(before.activeRootId);
    expect(after.trustDomain).toBe(before.trustDomain);
    expect(after.rootsPem).toHaveLength(before.rootsPem.length + 1);
    expect(after.rootsPem).toContain(oldRootPem);
    const newRootPem = after.rootsPem.find((r) => !before.rootsPem.includes(r))!;

    // The agent re-issues the leaf at a random point of its jitter window: follow it with a
    // blocking query (the watch meshless will run), bounded at 60 s.
    let leaf = oldLeaf;
    while (!signedBy(leaf.certPem, newRootPem)) {
      if (performance.now() - t0 > 60_000) throw new Error('no leaf from the new root within 60 s');
      leaf = await ca.leaf('api', token, leaf.index);
    }
    const leafMs = performance.now() - t0;
    console.info(
      `[connect-agent] CA rotation: new root listed after ${rootsMs.toFixed(0)} ms, leaf re-issued after ${leafMs.toFixed(0)} ms`,
    );
    expect(uriOf(leaf.certPem)).toBe(uriOf(oldLeaf.certPem));

    // During the switch both generations talk: old leaf <-> new leaf against the new roots list...
    const newServer = { cert: leaf.certPem, key: leaf.keyPem, ca: after.rootsPem };
    const oldClient = { cert: oldLeaf.certPem, key: oldLeaf.keyPem, ca: after.rootsPem };
    expect((await handshake(newServer, oldClient)).ok).toBe(true);
    // ...and a peer still holding only the OLD root accepts a new leaf: Consul sends it with the new
    // root cross-signed by the old one.
    expect((await handshake(newServer, { ...oldClient, ca: [oldRootPem] })).ok).toBe(true);
    // foreignLeaf follows the rotation (signed by the new active key).
    const foreign = await ca.foreignLeaf('spiffe://foreign.consul/ns/default/dc/dc1/svc/web');
    expect(signedBy(foreign.certPem, newRootPem)).toBe(true);
  }, 90_000);
});
