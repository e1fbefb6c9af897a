import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh } from 'meshless';
import { describe, expect, it } from 'vitest';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

describe('governed client: streaming bodies', () => {
  it('streams a request body up and a large response down, and never retries a streamed body', async () => {
    const prefix = uniquePrefix('stream');
    const service = `files-${prefix.slice(-8)}`;
    let posts = 0;
    const server = createServer(async (req, res) => {
      if (req.method === 'POST') {
        posts++;
        let bytes = 0;
        for await (const chunk of req) bytes += (chunk as Buffer).length;
        // The first two uploads fail: a replayable body is retried, a stream must not be.
        res.writeHead(posts <= 2 ? 503 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes }));
        return;
      }
      // 4 MiB without a content-length: chunked, so the client must hand out a stream.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      for (let i = 0; i < 64; i++) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const port = (server.address() as AddressInfo).port;
    const backend = await createMesh({
      consul: { address: consulAddress() },
      prefix,
      cacheDir: false,
      logger: 'silent',
      service: { name: service, port, address: '127.0.0.1', drainMs: 0 },
    });
    cleanup(() => backend.close());
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    await kv.put(`${prefix}/services/${service}/policies`, {
      retry: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 }, on: ['503'] },
    });
    const gw = await createMesh({
      consul: { address: consulAddress() },
      prefix,
      cacheDir: false,
      logger: 'silent',
    });
    cleanup(() => gw.close());
    await eventually(() => gw.status().rules.keys.length === 1);
    const client = gw.client(service);

    // Download: the body arrives as a stream, chunk by chunk.
    const res = await client.fetch('/big');
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let received = 0;
    let chunks = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      chunks++;
    }
    expect(received).toBe(4 * 1024 * 1024);
    expect(chunks).toBeGreaterThan(1);

    // Upload a stream: sent as is; the 503 comes back as the answer, not retried.
    const upload = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 16; i++) controller.enqueue(new Uint8Array(32 * 1024).fill(1));
        controller.close();
      },
    });
    const first = await client.fetch('/upload', { method: 'POST', body: upload, idempotent: true });
    expect(first.status).toBe(503);
    expect(await first.json()).toEqual({ bytes: 16 * 32 * 1024 });
    expect(posts).toBe(1);

    // The same upload as bytes is replayable, so the declared-idempotent POST is retried.
    const second = await client.fetch('/upload', {
      method: 'POST',
      body: new Uint8Array(1000),
      idempotent: true,
    });
    expect(second.status).toBe(200);
    expect(posts).toBe(3);
  });
});
