import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { freePort } from '@meshless/consul/testing';
import express from 'express';
import Fastify from 'fastify';
import { createMesh, type Mesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { testNames, useConnectAgent } from './helpers/connect-agent.ts';
import { eventually } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';
import { ztMeshOptions } from './helpers/zero-trust-services.ts';

// Zero trust through each server adapter: node:http (mesh.serve), Express (mesh.middleware) and
// Fastify (serverFactory + mesh.fastifyPlugin), each on mesh.createServer. ACLs off: Consul's
// default decision is allow, so a deny intention is what refuses.

const cleanup = useCleanupsAndNoUnhandledRejections();
const agent = useConnectAgent({ acl: false });

type Kind = 'node' | 'express' | 'fastify';

/** What the route handler saw of one request. */
interface Seen {
  peer: string | undefined;
  spiffeId: string | undefined;
  tls: boolean;
  reused: boolean | undefined;
}

interface Served {
  mesh: Mesh;
  server: Server;
  seen: Seen[];
  /** TCP connections the server accepted (plain or TLS: the mesh server's own 'connection'). */
  connections: () => number;
  /** The connections requests came on. */
  sockets: Set<object>;
}

function see(req: IncomingMessage, sockets: Set<object>): Seen {
  sockets.add(req.socket);
  const socket = req.socket as Partial<TLSSocket>;
  const tls = socket.encrypted === true;
  return {
    peer: req.meshless?.peer?.service,
    spiffeId: req.meshless?.peer?.spiffeId,
    tls,
    reused: tls ? socket.isSessionReused?.() : undefined,
  };
}

async function ztMesh(name: string, prefix: string, port: number, zeroTrust: boolean): Promise<Mesh> {
  const mesh = await createMesh(ztMeshOptions(agent, name, prefix, port, zeroTrust));
  cleanup(() => mesh.close());
  return mesh;
}

function closeServer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

async function serve(kind: Kind, name: string, prefix: string, keepAliveTimeoutMs?: number): Promise<Served> {
  const port = await freePort();
  const mesh = await ztMesh(name, prefix, port, true);
  const seen: Seen[] = [];
  const sockets = new Set<object>();
  let server: Server;
  if (kind === 'node') {
    server = mesh.createServer(
      mesh.serve((req: IncomingMessage, res: ServerResponse) => {
        seen.push(see(req, sockets));
        res.end(`node:${req.url}`);
      }),
    );
  } else if (kind === 'express') {
    const app = express();
    app.use(mesh.middleware());
    app.get('/hello', (req, res) => {
      seen.push(see(req, sockets));
      res.send('express:/hello');
    });
    app.use(mesh.errorHandler());
    server = mesh.createServer(app);
  } else {
    const fastify = Fastify({ serverFactory: (handler) => mesh.createServer(handler) });
    await fastify.register(mesh.fastifyPlugin);
    fastify.get('/hello', (request) => {
      seen.push(see(request.raw, sockets));
      return 'fastify:/hello';
    });
    await fastify.ready();
    server = fastify.server;
  }
  let connections = 0;
  server.on('connection', () => connections++);
  // Before listen: the mesh server hands its timeouts to its TLS side then.
  if (keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = keepAliveTimeoutMs;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanup(closeServer(server));
  return { mesh, server, seen, sockets, connections: () => connections };
}

const names = () => testNames('zta', ['api', 'web', 'plain'] as const);

async function call(mesh: Mesh, service: string, path = '/hello') {
  const res = await mesh.client(service).fetch(path);
  return { status: res.status, body: await res.text(), shed: res.headers.get('x-meshless-shed') };
}

describe.each<Kind>(['node', 'express', 'fastify'])('zero trust through the %s adapter', (kind) => {
  it('a zero-trust caller gets 200 over mutual TLS and the handler sees its verified identity', async () => {
    const n = names();
    const api = await serve(kind, n.api, n.prefix);
    const web = await ztMesh(n.web, n.prefix, await freePort(), true);
    await eventually(() => web.client(n.api).status().endpoints > 0, 5000, 'api discovered');
    const res = await call(web, n.api);
    expect(res.status).toBe(200);
    expect(res.body).toBe(`${kind}:/hello`);
    const td = (await agent.roots()).trustDomain;
    expect(api.seen.at(-1)).toMatchObject({
      tls: true,
      peer: n.web,
      spiffeId: `spiffe://${td}/ns/default/dc/dc1/svc/${n.web}`,
    });
  }, 30_000);

  it('a deny intention refuses with 403 MESHLESS_INTENTION_DENIED, before the handler', async () => {
    const n = names();
    const api = await serve(kind, n.api, n.prefix);
    const web = await ztMesh(n.web, n.prefix, await freePort(), true);
    await eventually(() => web.client(n.api).status().endpoints > 0, 5000, 'api discovered');
    expect((await call(web, n.api)).status).toBe(200);
    const handled = api.seen.length;
    await agent.addIntention(n.web, n.api, 'deny');
    let last = { status: 0, body: '', shed: null as string | null };
    await eventually(
      async () => {
        last = await call(web, n.api);
        return last.status === 403;
      },
      2000,
      'the deny intention applied',
    );
    expect(JSON.parse(last.body)).toEqual({ error: 'intention_denied', code: 'MESHLESS_INTENTION_DENIED' });
    expect(last.shed).toBe('intention_denied');
    expect(api.seen.length).toBe(handled);
  }, 30_000);

  it('a plain caller (zero trust off) gets 200 in permissive mode, and the handler sees no peer', async () => {
    const n = names();
    const api = await serve(kind, n.api, n.prefix);
    const plain = await ztMesh(n.plain, n.prefix, await freePort(), false);
    await eventually(() => plain.client(n.api).status().endpoints > 0, 5000, 'api discovered');
    const res = await call(plain, n.api);
    expect(res.status).toBe(200);
    expect(api.seen.at(-1)).toEqual({ peer: undefined, spiffeId: undefined, tls: false, reused: undefined });
  }, 30_000);

  it('sequential calls reuse their TLS connections; after they close, the next handshake resumes the session', async () => {
    const n = names();
    // Keep-Alive: timeout=3 (s) tells undici to drop an idle connection after 1 s (its 2 s
    // threshold): the caller closes them itself, so no call races a server-side close.
    const api = await serve(kind, n.api, n.prefix, 3500);
    const web = await ztMesh(n.web, n.prefix, await freePort(), true);
    await eventually(() => web.client(n.api).status().endpoints > 0, 5000, 'api discovered');
    const N = 20;
    // Back to back: undici frees a connection a turn of the event loop after the body ends, so a
    // call made at once takes a second one (plain calls do the same). Never one per call.
    for (let i = 0; i < N; i++) expect((await call(web, n.api)).status).toBe(200);
    expect(api.seen).toHaveLength(N);
    expect(api.seen.every((s) => s.tls && s.peer === n.web)).toBe(true);
    expect(api.connections()).toBeLessThanOrEqual(2);
    expect(api.seen[0]?.reused).toBe(false);
    // The pool drops its idle connections; the next calls, a turn apart, reconnect once, and that
    // handshake resumes the session.
    await eventually(
      () => [...api.sockets].every((s) => (s as TLSSocket).destroyed),
      5000,
      'the caller closed its idle connections',
    );
    const before = api.connections();
    for (let i = 0; i < N; i++) {
      expect((await call(web, n.api)).status).toBe(200);
      await new Promise(setImmediate);
    }
    expect(api.connections()).toBe(before + 1);
    expect(api.seen.slice(N).map((s) => [s.tls, s.peer, s.reused])).toEqual(
      Array(N).fill([true, n.web, true]),
    );
  }, 30_000);
});
