import { describe, expect, it } from 'vitest';
import { startBackend, startGateway } from './helpers/backends.ts';
import { eventually, kvClient, uniquePrefix } from './helpers/consul.ts';
import { useCleanupsAndNoUnhandledRejections } from './helpers/lifecycle.ts';

const cleanup = useCleanupsAndNoUnhandledRejections();

interface Echo {
  contentType: string | null;
  body: string;
  attempt: number;
}

describe('governed client: request bodies as WHATWG fetch takes them', () => {
  it('sends every body kind with the content-type fetch would set, and retries the replayable ones', async () => {
    const prefix = uniquePrefix('bodies');
    const service = `forms-${prefix.slice(-8)}`;
    const { kv, connection } = kvClient();
    cleanup(() => connection.close());
    await kv.put(`${prefix}/services/${service}/policies`, {
      retry: { attempts: 2, backoff: { baseMs: 0, maxMs: 0 }, on: ['503'] },
    });
    const backend = await startBackend(service, 'v1', 'a', { prefix });
    cleanup(() => backend.stop());
    // Every first try of a request id fails with 503, so each replayable body is sent twice.
    const tries = new Map<string, number>();
    backend.behave = (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        const id = String(req.headers['x-request-id']);
        const attempt = (tries.get(id) ?? 0) + 1;
        tries.set(id, attempt);
        if (attempt === 1 && id !== 'stream') {
          res.writeHead(503).end();
          return;
        }
        const echo: Echo = { contentType: req.headers['content-type'] ?? null, body, attempt };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(echo));
      });
      return true;
    };
    const gateway = await startGateway(prefix);
    cleanup(() => gateway.close());
    const client = gateway.client(service);
    await eventually(() => client.status().endpoints === 1 && gateway.status().rules.keys.length === 1);

    const send = async (id: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await client.fetch('/upload', {
        method: 'POST',
        idempotent: true,
        body: body as never,
        headers: { 'x-request-id': id, ...headers },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as Echo;
    };
    const form = new FormData();
    form.set('name', 'widget');

    expect(await send('text', 'hello')).toEqual({
      contentType: 'text/plain;charset=UTF-8',
      body: 'hello',
      attempt: 2,
    });
    expect(await send('json', '{"a":1}', { 'Content-Type': 'application/json' })).toEqual({
      contentType: 'application/json',
      body: '{"a":1}',
      attempt: 2,
    });
    expect(await send('params', new URLSearchParams({ q: 'x y', n: '1' }))).toEqual({
      contentType: 'application/x-www-form-urlencoded;charset=UTF-8',
      body: 'q=x+y&n=1',
      attempt: 2,
    });
    expect(await send('bytes', new TextEncoder().encode('raw'))).toMatchObject({ body: 'raw', attempt: 2 });
    expect(await send('view', new DataView(new TextEncoder().encode('view').buffer))).toMatchObject({
      body: 'view',
      attempt: 2,
    });
    expect(await send('blob', new Blob(['{"b":2}'], { type: 'application/json' }))).toEqual({
      contentType: 'application/json',
      body: '{"b":2}',
      attempt: 2,
    });
    const multipart = await send('form', form);
    expect(multipart.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(multipart.body).toContain('name="name"\r\n\r\nwidget');
    expect(multipart.attempt).toBe(2);
    // A stream is sent once (it cannot be replayed), as is.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    expect(await send('stream', stream)).toEqual({ contentType: null, body: 'streamed', attempt: 1 });
  });
});
