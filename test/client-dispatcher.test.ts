// mesh.dispatcher() on a real Consul: Node's built-in fetch (its own undici copy, legacy handler
// shape), npm undici's request and fetch (controller shape) and axios's fetch adapter are governed
// like mesh.client(), and a host that is not a service passes through untouched.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { createMesh, type Mesh } from 'meshless';
import {
  getGlobalDispatcher,
  setGlobalDispatcher,
  fetch as undiciFetch,
  request as undiciRequest,
} from 'undici';
import { describe, expect, it } from 'vitest';
import { type Backend, startFleet, startShop } from './helpers/backends.ts';
import { consulAddress, kvClient, putApplied, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

type Answer = { version: string; instance: string; caller: string | null };

/** The three clients under test, each asking `url` through the dispatcher for the answer's JSON. */
function callers(mesh: Mesh) {
  const dispatcher = mesh.dispatcher();
  const http = axios.create({ adapter: 'fetch', fetchOptions: { dispatcher } } as never);
  return {
    'global fetch': async (url: string, headers: Record<string, string> = {}) => {
      const res = await fetch(url, { headers, dispatcher } as RequestInit);
      return { status: res.status, body: (await res.json()) as Answer };
    },
    'undici request': async (url: string, headers: Record<string, string> = {}) => {
      const res = await undiciRequest(url, { headers, dispatcher });
      return { status: res.statusCode, body: (await res.body.json()) as Answer };
    },
    'undici fetch': async (url: string, headers: Record<string, string> = {}) => {
      const res = await undiciFetch(url, { headers, dispatcher });
      return { status: res.status, body: (await res.json()) as Answer };
    },
    axios: async (url: string, headers: Record<string, string> = {}) => {
      const res = await http.get<Answer>(url, { headers });
      return { status: res.status, body: res.data };
    },
  };
}

async function shop(name: string) {
  const prefix = uniquePrefix(name);
  const service = `catalog-${prefix.slice(-8)}`;
  const started = await startShop(
    prefix,
    service,
    [
      ['v1', 'v1-a'],
      ['v1', 'v1-b'],
      ['v2', 'v2-a'],
    ],
    cleanup,
  );
  return { prefix, service, ...started };
}

describe('mesh.dispatcher(): fetch, undici and axios governed on a real Consul', () => {
  it('retries on another endpoint when an instance dies, for every client', async () => {
    const { service, backends, gateway, kv, prefix } = await shop('dispatch-retry');
    await putApplied(kv, gateway, `${prefix}/services/${service}/balancer`, { algorithm: 'round-robin' });
    // A kept-alive connection to the dead instance may reset rather than refuse: retried too.
    await putApplied(kv, gateway, `${prefix}/services/${service}/policies`, {
      retry: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 } },
    });
    const dead: Backend = backends[0]!;
    await dead.crash();
    for (const [name, call] of Object.entries(callers(gateway))) {
      for (let i = 0; i < 9; i++) {
        // Both host forms name the service.
        const host = i % 2 === 0 ? service : `${service}.service.consul`;
        const { status, body } = await call(`http://${host}/items/${i}`);
        expect(status, name).toBe(200);
        expect(body.instance, name).not.toBe(dead.name);
        // Governed: the identity header of the calling mesh was added by the client's stages.
        expect(body.caller, name).toBe('gateway');
      }
    }
    expect(gateway.status().clients.find((c) => c.service === service)?.endpoints).toBe(3);
  });

  it('honours a header route, for every client', async () => {
    const { service, gateway, kv, prefix } = await shop('dispatch-route');
    await putApplied(kv, gateway, `${prefix}/services/${service}/routes`, {
      subsets: { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } },
      routes: [
        {
          name: 'beta',
          match: { headers: { 'x-user-group': { exact: 'beta' } } },
          to: [{ subset: 'canary' }],
        },
        { name: 'default', to: [{ subset: 'stable' }] },
      ],
    });
    for (const [name, call] of Object.entries(callers(gateway))) {
      for (let i = 0; i < 6; i++) {
        const beta = await call(`http://${service}/items/${i}`, { 'x-user-group': 'beta' });
        expect(beta.body.version, name).toBe('v2');
        const other = await call(`http://${service}/items/${i}`);
        expect(other.body.version, name).toBe('v1');
      }
    }
  });

  it('passes a host that is not a service through untouched, also as the global dispatcher', async () => {
    const { gateway } = await shop('dispatch-pass');
    const seen: { url: string | undefined; headers: IncomingHttpHeaders }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      res.writeHead(201, { 'content-type': 'application/json', 'x-plain': 'yes' });
      res.end(JSON.stringify({ version: 'plain', instance: 'plain', caller: null }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    for (const [name, call] of Object.entries(callers(gateway))) {
      seen.length = 0;
      const { status, body } = await call(`http://127.0.0.1:${port}/plain?q=1`, { 'x-user-group': 'beta' });
      expect(status, name).toBe(201);
      expect(body.instance, name).toBe('plain');
      expect(seen[0]?.url, name).toBe('/plain?q=1');
      expect(seen[0]?.headers['x-user-group'], name).toBe('beta');
      // No mesh headers on a call the mesh does not govern.
      expect(seen[0]?.headers['x-meshless-caller'], name).toBeUndefined();
      expect(seen[0]?.headers['x-meshless-deadline'], name).toBeUndefined();
    }
    // As the global dispatcher: Node's built-in fetch reads the one npm undici sets.
    const before = getGlobalDispatcher();
    setGlobalDispatcher(gateway.dispatcher());
    cleanup(() => setGlobalDispatcher(before));
    const plain = await fetch(`http://127.0.0.1:${port}/global`);
    expect(plain.status).toBe(201);
    expect(plain.headers.get('x-plain')).toBe('yes');
    await plain.arrayBuffer();
  });

  it('reports a governed failure as the cause of fetch failed, and as itself from undici request', async () => {
    const { gateway } = await shop('dispatch-fail');
    const dispatcher = gateway.dispatcher();
    // A service with no instance: the client's error, as mesh.client() would throw it.
    const url = `http://absent-${uniquePrefix().slice(-8)}/items/1`;
    const viaFetch = await fetch(url, { dispatcher } as RequestInit).catch((e: unknown) => e);
    expect(viaFetch).toBeInstanceOf(TypeError);
    const cause = (viaFetch as { cause?: { code?: string } }).cause;
    expect(cause?.code).toBe('MESHLESS_NO_HEALTHY_ENDPOINT');
    const viaRequest = await undiciRequest(url, { dispatcher }).catch((e: unknown) => e);
    expect((viaRequest as { code?: string }).code).toBe(cause?.code);
    const viaAxios = await axios
      .create({ adapter: 'fetch', fetchOptions: { dispatcher } } as never)
      .get(url)
      .catch((e: unknown) => e);
    expect((viaAxios as { cause?: { code?: string } }).cause?.code).toBe(cause?.code);
  });

  it('carries propagated headers of a served request into a fetch through the dispatcher', async () => {
    const prefix = uniquePrefix('dispatch-propagate');
    const pricing = `pricing-${prefix.slice(-8)}`;
    const backends = await startFleet(pricing, prefix, [
      ['v1', 'stable'],
      ['v2', 'beta'],
    ]);
    cleanup(async () => {
      await Promise.all(backends.map((b) => b.stop()));
    });
    const catalog = await createMesh({
      consul: { address: consulAddress() },
      prefix,
      cacheDir: false,
      logger: 'silent',
      service: { name: 'catalog', port: 1, register: false },
      propagate: { headers: ['x-user-group'] },
    });
    cleanup(() => catalog.close());
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    await putApplied(kv, catalog, `${prefix}/services/${pricing}/routes`, {
      subsets: { stable: { meta: { version: 'v1' } }, beta: { meta: { version: 'v2' } } },
      routes: [
        { name: 'beta', match: { headers: { 'x-user-group': { exact: 'beta' } } }, to: [{ subset: 'beta' }] },
        { name: 'default', to: [{ subset: 'stable' }] },
      ],
    });
    // catalog's handler calls pricing with a plain fetch: no header forwarded by hand.
    const dispatcher = catalog.dispatcher();
    const server = createServer(
      catalog.serve(async (_req, res) => {
        const answer = await fetch(`http://${pricing}/prices/1`, { dispatcher } as RequestInit);
        res.end(await answer.text());
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/items/1`;
    for (let i = 0; i < 4; i++) {
      const beta = (await (await fetch(url, { headers: { 'x-user-group': 'beta' } })).json()) as Answer;
      expect(beta.version).toBe('v2');
      const plain = (await (await fetch(url)).json()) as Answer;
      expect(plain.version).toBe('v1');
    }
  });

  it('governs the global fetch once the dispatcher is the global one', async () => {
    const { service, gateway } = await shop('dispatch-global');
    const before = getGlobalDispatcher();
    setGlobalDispatcher(gateway.dispatcher());
    cleanup(() => setGlobalDispatcher(before));
    const res = await fetch(`http://${service}/items/1`, { method: 'POST', body: '{"a":1}' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Answer).caller).toBe('gateway');
  });
});
