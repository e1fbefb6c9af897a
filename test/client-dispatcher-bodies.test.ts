// mesh.dispatcher() on a real Consul: request bodies (a small one of known length is replayable,
// a stream is sent once), large streamed answers, and close() leaving no connection open.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { request as undiciRequest, stream as undiciStream } from 'undici';
import { describe, expect, it } from 'vitest';
import { startShop } from './helpers/backends.ts';
import { eventually, putApplied, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

async function shop(name: string, rules: Record<string, object> = {}) {
  const prefix = uniquePrefix(name);
  const service = `store-${prefix.slice(-8)}`;
  const started = await startShop(
    prefix,
    service,
    [
      ['v1', 'a'],
      ['v1', 'b'],
    ],
    cleanup,
  );
  for (const [kind, doc] of Object.entries(rules))
    await putApplied(started.kv, started.gateway, `${prefix}/services/${service}/${kind}`, doc);
  return { service, ...started };
}

describe('mesh.dispatcher(): bodies and close on a real Consul', () => {
  it('retries a small PUT body from fetch, and sends a streamed one once', async () => {
    const { service, backends, gateway } = await shop('dispatch-body', {
      policies: { retry: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 }, on: ['503'] } },
    });
    // The first request to each path is refused (whichever endpoint takes it), then bodies are echoed.
    const seen = new Map<string, number>();
    for (const backend of backends) {
      backend.behave = (req, res) => {
        void readBody(req).then((body) => {
          const count = (seen.get(req.url!) ?? 0) + 1;
          seen.set(req.url!, count);
          res.writeHead(count === 1 ? 503 : 200, { 'content-type': 'text/plain' });
          res.end(`echo:${body}`);
        });
        return true;
      };
    }
    const dispatcher = gateway.dispatcher();
    // Node's fetch streams every body; one of known length is read whole first, so it is replayable.
    const put = await fetch(`http://${service}/items/1`, {
      method: 'PUT',
      body: 'small',
      dispatcher,
    } as RequestInit);
    expect(put.status).toBe(200);
    expect(await put.text()).toBe('echo:small');
    // A stream of unknown length is sent once: the endpoint's refusal is the answer.
    const streamed = await undiciRequest(`http://${service}/items/2`, {
      method: 'PUT',
      body: Readable.from(['str', 'eamed']),
      dispatcher,
    });
    expect(streamed.statusCode).toBe(503);
    expect(await streamed.body.text()).toBe('echo:streamed');
    expect(seen.get('/items/1')).toBe(2);
    expect(seen.get('/items/2')).toBe(1);
  });

  it('streams a large answer through fetch, undici request and undici stream', async () => {
    const { service, backends, gateway } = await shop('dispatch-large');
    const big = Buffer.alloc(1024 * 1024, 'x');
    for (const backend of backends) {
      backend.behave = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(big);
        return true;
      };
    }
    const dispatcher = gateway.dispatcher();
    const viaFetch = await fetch(`http://${service}/big`, { dispatcher } as RequestInit);
    expect(Buffer.from(await viaFetch.arrayBuffer()).equals(big)).toBe(true);
    const viaRequest = await undiciRequest(`http://${service}/big`, { dispatcher });
    expect(Buffer.from(await viaRequest.body.arrayBuffer()).equals(big)).toBe(true);
    // undici's stream(): the answer is written into the caller's Writable, with its back-pressure.
    const chunks: Buffer[] = [];
    let status = 0;
    await undiciStream(`http://${service}/big`, { method: 'GET', dispatcher }, ({ statusCode }) => {
      status = statusCode;
      return new Writable({
        highWaterMark: 16 * 1024,
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk);
          setImmediate(done); // a slow consumer: the body must wait for it
        },
      });
    });
    expect(status).toBe(200);
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
  });

  it("a caller's abort mid-body ends the governed call and its stream", async () => {
    const { service, backends, gateway } = await shop('dispatch-abort');
    let endpointSawClose!: () => void;
    const closed = new Promise<void>((r) => {
      endpointSawClose = r;
    });
    for (const backend of backends) {
      backend.behave = (_req, res) => {
        // A first chunk, then nothing: only the caller's abort ends it.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(128 * 1024, 'y'));
        res.once('close', endpointSawClose);
        return true;
      };
    }
    const controller = new AbortController();
    const res = await fetch(`http://${service}/slow`, {
      dispatcher: gateway.dispatcher(),
      signal: controller.signal,
    } as RequestInit);
    const reader = res.body!.getReader();
    expect((await reader.read()).value!.byteLength).toBeGreaterThan(0);
    controller.abort(new Error('caller gave up'));
    await expect(reader.read()).rejects.toThrow('caller gave up');
    await closed; // the connection to the endpoint was let go
    expect(gateway.status().clients.find((c) => c.service === service)?.inFlight).toBe(0);
  });

  it('close() closes the pass-through connections and refuses governed requests', async () => {
    const { service, gateway } = await shop('dispatch-close');
    const sockets = new Set<Socket>();
    const server = createServer((_req, res) => res.end('plain'));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;
    const dispatcher = gateway.dispatcher();
    const plain = await fetch(`http://127.0.0.1:${port}/`, { dispatcher } as RequestInit);
    expect(await plain.text()).toBe('plain');
    const governed = await fetch(`http://${service}/items/1`, { dispatcher } as RequestInit);
    expect(governed.status).toBe(200);
    await governed.arrayBuffer();
    expect(sockets.size).toBe(1); // a keep-alive connection the pass-through agent holds

    await gateway.close();
    // The server side sees the client close its connection: none is left open by the mesh.
    await eventually(() => sockets.size === 0, 2000, 'the pass-through connection closed');
    const refused = await fetch(`http://${service}/items/1`, { dispatcher } as RequestInit).catch((e) => e);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as { cause?: { code?: string } }).cause?.code).toBe('MESHLESS_CLOSED');
    expect(() => gateway.dispatcher()).toThrow(/closed/);
  });
});
