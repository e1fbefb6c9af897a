import { createServer, type RequestListener } from 'node:http';
import { freePort } from '@meshless/consul/testing';
import { createMesh, type GovernedMethodDecorator, type Mesh, type MeshOptions } from 'meshless';
import { describe, expect, it } from 'vitest';
import { startBackend } from './helpers/backends.ts';
import { consulAddress, eventually, kvClient, putApplied, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();
const propagate = { headers: ['x-user-id', 'x-user-group'] };

/** Applies a method decorator as compiled standard-decorator code does (no decorator syntax here). */
function decorate(proto: object, name: string, decorator: GovernedMethodDecorator): void {
  const method = (proto as Record<string, (...args: never[]) => Promise<unknown>>)[name]!;
  const context = { kind: 'method', name, static: false, private: false, addInitializer() {}, metadata: {} };
  const apply = decorator as unknown as (value: typeof method, ctx: unknown) => typeof method;
  Object.defineProperty(proto, name, { value: apply(method, context), configurable: true, writable: true });
}

/** A mesh serving `handler` through mesh.serve on a real HTTP server (registered unless `register: false`). */
async function servedMesh(
  prefix: string,
  name: string,
  handler: (mesh: Mesh) => RequestListener,
  extra: Partial<MeshOptions> = {},
  register = true,
): Promise<{ mesh: Mesh; port: number }> {
  const port = await freePort();
  const mesh = await createMesh({
    consul: { address: consulAddress() },
    prefix,
    cacheDir: false,
    logger: 'silent',
    service: { name, port, address: '127.0.0.1', drainMs: 0, register },
    ...extra,
  });
  cleanup(() => mesh.close());
  const server = createServer(mesh.serve(handler(mesh)));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  cleanup(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { mesh, port };
}

describe('headers that travel by themselves', () => {
  it('gateway -> catalog -> pricing: a beta header route on pricing is honoured with no forwarding code (client, decorated method, fetch through the dispatcher)', async () => {
    const prefix = uniquePrefix('propagate');
    const tag = prefix.slice(-8);
    const [catalogName, pricingName] = [`catalog-${tag}`, `pricing-${tag}`];
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());

    // pricing: a stable and a beta instance, each telling who it is and what reached it.
    const received: Record<string, string | undefined>[] = [];
    const pricing = [
      await startBackend(pricingName, 'v1', 'stable', { prefix }),
      await startBackend(pricingName, 'v2', 'beta', { prefix }),
    ];
    for (const backend of pricing) {
      cleanup(() => backend.stop());
      backend.behave = (req, res) => {
        received.push({
          'x-user-id': req.headers['x-user-id'] as string | undefined,
          'x-tenant': req.headers['x-tenant'] as string | undefined,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ instance: backend.name }));
        return true;
      };
    }

    // catalog: calls pricing and answers with what pricing said; nothing forwarded by hand, and
    // a call that sets the header itself keeps its own.
    const catalog = await servedMesh(
      prefix,
      catalogName,
      (mesh) => {
        // A governed method of catalog's own: the calls it makes get the headers too.
        class Prices {
          async lookup(): Promise<string> {
            return (await mesh.client(pricingName).fetch('/prices/1')).text();
          }
        }
        decorate(Prices.prototype, 'lookup', mesh.governed('prices.lookup', { timeoutMs: 2000 }));
        const prices = new Prices();
        return async (req, res) => {
          const own = req.url === '/items/own' ? { headers: { 'x-user-group': 'stable' } } : {};
          const body =
            req.url === '/items/decorated'
              ? await prices.lookup()
              : req.url === '/items/fetch'
                ? // Node's own fetch through the mesh's dispatcher: governed, so the headers travel too.
                  await (
                    await fetch(`http://${pricingName}/prices/1`, {
                      dispatcher: mesh.dispatcher(),
                    } as RequestInit)
                  ).text()
                : await (await mesh.client(pricingName).fetch('/prices/1', own)).text();
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(body);
        };
      },
      { propagate },
    );
    // gateway: the entry; it calls catalog, again with no forwarding code.
    const gateway = await servedMesh(
      prefix,
      `gateway-${tag}`,
      (mesh) => async (req, res) => {
        const answer = await mesh.client(catalogName).fetch(req.url ?? '/');
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(await answer.text());
      },
      { propagate: { headers: [...propagate.headers, 'x-tenant'] } },
      false,
    );

    await putApplied(kv, catalog.mesh, `${prefix}/services/${pricingName}/routes`, {
      subsets: { stable: { meta: { version: 'v1' } }, beta: { meta: { version: 'v2' } } },
      routes: [
        { name: 'beta', match: { headers: { 'x-user-group': { exact: 'beta' } } }, to: [{ subset: 'beta' }] },
        { name: 'default', to: [{ subset: 'stable' }] },
      ],
    });
    await eventually(
      () => catalog.mesh.client(pricingName).status().endpoints === 2,
      5000,
      'pricing discovered',
    );
    await eventually(
      () => gateway.mesh.client(catalogName).status().endpoints === 1,
      5000,
      'catalog discovered',
    );

    const instanceFor = async (path: string, headers: Record<string, string>) => {
      const res = await fetch(`http://127.0.0.1:${gateway.port}${path}`, { headers });
      expect(res.status).toBe(200);
      return ((await res.json()) as { instance: string }).instance;
    };
    for (let i = 0; i < 10; i++) {
      expect(await instanceFor('/items/1', { 'x-user-group': 'beta', 'x-user-id': `u${i}` })).toBe('beta');
      expect(await instanceFor('/items/1', { 'x-user-id': `u${i}` })).toBe('stable');
    }
    expect(await instanceFor('/items/decorated', { 'x-user-group': 'beta' })).toBe('beta');
    expect(await instanceFor('/items/decorated', {})).toBe('stable');
    expect(await instanceFor('/items/fetch', { 'x-user-group': 'beta' })).toBe('beta');
    expect(await instanceFor('/items/fetch', {})).toBe('stable');
    // The call's own header wins over the one that travelled.
    expect(await instanceFor('/items/own', { 'x-user-group': 'beta' })).toBe('stable');
    // x-user-id reached pricing two hops away; x-tenant, named by the gateway only, stopped at catalog.
    expect(
      await instanceFor('/items/1', { 'x-user-group': 'beta', 'x-user-id': 'u42', 'x-tenant': 't1' }),
    ).toBe('beta');
    expect(received.at(-1)).toEqual({ 'x-user-id': 'u42', 'x-tenant': undefined });
    expect(received.slice(0, 20).map((r) => r['x-user-id'])).toEqual(
      Array.from({ length: 10 }, (_, i) => [`u${i}`, `u${i}`]).flat(),
    );
  });

  it('carries nothing when no header is named', async () => {
    const prefix = uniquePrefix('propagate-off');
    const tag = prefix.slice(-8);
    const backName = `pricing-${tag}`;
    const back = await startBackend(backName, 'v1', 'only', { prefix });
    cleanup(() => back.stop());
    let group: string | undefined = 'unset';
    back.behave = (req, res) => {
      group = req.headers['x-user-group'] as string | undefined;
      res.end('{}');
      return true;
    };
    const front = await servedMesh(
      prefix,
      `catalog-${tag}`,
      (mesh) => async (_req, res) => {
        await mesh.client(backName).fetch('/prices/1');
        res.end('{}');
      },
      {},
      false,
    );
    await eventually(() => front.mesh.client(backName).status().endpoints === 1, 5000, 'pricing discovered');
    const res = await fetch(`http://127.0.0.1:${front.port}/items/1`, {
      headers: { 'x-user-group': 'beta' },
    });
    expect(res.status).toBe(200);
    expect(group).toBeUndefined();
  });
});
