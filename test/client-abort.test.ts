import { ClosedError, TimeoutError } from 'meshless';
import { describe, expect, it } from 'vitest';
import { type Backend, startBackend, startGateway } from './helpers/backends.ts';
import { eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

/** One backend and a gateway client for it; `behave` decides each answer. */
async function setup(name: string, policies?: object) {
  const prefix = uniquePrefix(name);
  const service = `${name}-${prefix.slice(-8)}`;
  if (policies) {
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    await kv.put(`${prefix}/services/${service}/policies`, policies);
  }
  const backend: Backend = await startBackend(service, 'v1', 'a', { prefix });
  cleanup(() => backend.stop());
  const gateway = await startGateway(prefix);
  cleanup(() => gateway.close());
  const client = gateway.client(service);
  await eventually(() => client.status().endpoints === 1, 5000, 'one endpoint');
  if (policies) await eventually(() => gateway.status().rules.keys.length === 1, 5000, 'policies');
  return { backend, client, service };
}

/** Resolves when the server sees the request's connection close (the client gave up on it). */
function closedByClient(backend: Backend): Promise<void> {
  return new Promise((resolve) => {
    backend.behave = (req) => {
      req.socket.once('close', () => resolve());
      return true; // never answers
    };
  });
}

describe('governed client: aborts, timeouts and bodies of every shape', () => {
  it("rejects with the caller's abort reason and closes the request's connection", async () => {
    const { backend, client } = await setup('abort');
    const closed = closedByClient(backend);
    const controller = new AbortController();
    const call = client.fetch('/hang', { signal: controller.signal });
    await eventually(() => backend.hits === 1, 5000, 'request arrived');
    const reason = new Error('user went away');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    await closed;

    // An already aborted signal sends nothing at all.
    const hits = backend.hits;
    await expect(client.fetch('/never', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(backend.hits).toBe(hits);
  });

  it('aborts a hung attempt at timeoutMs with a TimeoutError, and the next call is served', async () => {
    const { backend, client } = await setup('hung', { timeoutMs: 150 });
    const closed = closedByClient(backend);
    const started = performance.now();
    const error = await client.fetch('/hang').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    await closed;
    backend.behave = () => false;
    const res = await client.fetch('/ok');
    expect(await res.json()).toMatchObject({ instance: 'a' });
  });

  it('streams a large body until the caller cancels it, which frees the connection', async () => {
    const { backend, client } = await setup('cancel');
    let serverClosed!: Promise<unknown>;
    backend.behave = (req, res) => {
      serverClosed = new Promise((resolve) => req.socket.once('close', resolve));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
      return true;
    };
    const res = await client.fetch('/endless');
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.value!.byteLength).toBeGreaterThan(0);
    await reader.cancel();
    await serverClosed;
    backend.behave = () => false;
    expect((await client.fetch('/after')).status).toBe(200);
  });

  it('errors a streaming body with the reason when the caller aborts mid-body', async () => {
    const { backend, client } = await setup('midbody');
    backend.behave = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part');
      return true; // the rest never comes
    };
    const controller = new AbortController();
    const res = await client.fetch('/slow', { signal: controller.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first part');
    const reason = new Error('enough');
    controller.abort(reason);
    await expect(reader.read()).rejects.toBe(reason);
  });

  it('closes the mesh without hanging on a streamed body nobody reads', async () => {
    const { backend, service } = await setup('unread');
    backend.behave = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(64 * 1024)); // and never ends
      return true;
    };
    const gateway = await startGateway(uniquePrefix('unread-gw'));
    const res = await gateway.client(service).fetch('/endless');
    expect(res.status).toBe(200);
    const started = performance.now();
    await gateway.close(); // drainMs is 0 for a mesh that does not register
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(res.text()).rejects.toThrow();
    expect(() => gateway.client(service)).toThrow(ClosedError);
  });

  it('keeps at most http.connectionsPerEndpoint connections to an instance', async () => {
    const { backend, service } = await setup('conns');
    const sockets = new Set<unknown>();
    backend.behave = (req, res) => {
      sockets.add(req.socket);
      setTimeout(() => res.end('{"instance":"a"}'), 5);
      return true;
    };
    const gateway = await startGateway(uniquePrefix('conns-gw'), { http: { connectionsPerEndpoint: 2 } });
    cleanup(() => gateway.close());
    const client = gateway.client(service);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => client.fetch('/x').then((r) => r.json())),
    );
    expect(answers).toHaveLength(20);
    expect(sockets.size).toBe(2);
  });

  it('answers HEAD and 204 without a body, and hands back a large 5xx body whole', async () => {
    const { backend, client } = await setup('shapes');
    backend.behave = (req, res) => {
      if (req.url === '/none') res.writeHead(204).end();
      else if (req.url === '/broken')
        res.writeHead(500, { 'content-type': 'text/plain' }).end('x'.repeat(200_000));
      else return false;
      return true;
    };
    const head = await client.fetch('/item', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/json');
    expect(head.body).toBeNull();
    const none = await client.fetch('/none');
    expect(none.status).toBe(204);
    expect(await none.text()).toBe('');
    const broken = await client.fetch('/broken');
    expect(broken.status).toBe(500);
    expect(broken.statusText).toBe('Internal Server Error');
    expect((await broken.text()).length).toBe(200_000);
    // The connection is reusable after each of them.
    const ok = await client.fetch('/ok');
    expect(ok.statusText).toBe('OK');
    expect(ok.url).toBe(`http://127.0.0.1:${backend.port}/ok`); // which instance answered
    expect(await ok.json()).toMatchObject({ instance: 'a' });
  });
});
