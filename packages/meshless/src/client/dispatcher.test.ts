import { describe, expect, it } from 'vitest';
import { DispatchCall } from './dispatch-call.ts';
import { headersOf, serviceOf } from './dispatcher.ts';
import type { MeshClient } from './mesh-client.ts';
import { MeshResponse } from './mesh-response.ts';
import type { ControllerHandler, DispatchController } from './transport.ts';

describe('serviceOf', () => {
  it('names a service by a dotless host without a port, or <name>.service.consul with any port', () => {
    expect(serviceOf('http://catalog')).toBe('catalog');
    expect(serviceOf('http://catalog.service.consul')).toBe('catalog');
    expect(serviceOf('http://catalog.service.consul:8080')).toBe('catalog');
    expect(serviceOf(new URL('http://Catalog.Service.Consul:80/'))).toBe('catalog');
  });

  it('leaves everything else to the pass-through agent', () => {
    for (const origin of [
      'http://localhost:3000',
      'http://localhost',
      'http://redis:6379', // a compose or cluster address, not a mesh name
      'http://127.0.0.1:8500',
      'http://[::1]:80',
      'http://api.example.com',
      'https://catalog',
      'http://a.b.service.consul',
      undefined,
    ]) {
      expect(serviceOf(origin), String(origin)).toBeUndefined();
    }
  });

  it('with a list of services, only those', () => {
    const only = new Set(['catalog']);
    expect(serviceOf('http://catalog', only)).toBe('catalog');
    expect(serviceOf('http://catalog:8080', only)).toBe('catalog');
    expect(serviceOf('http://pricing', only)).toBeUndefined();
  });
});

describe('headersOf', () => {
  it('reads every undici header form into one record without a prototype, minus hop headers', () => {
    const fromRecord = headersOf({ 'X-User': 'a', Host: 'catalog', accept: ['a', 'b'] });
    expect({ ...fromRecord }).toEqual({ 'x-user': 'a', accept: 'a, b' });
    expect(Object.getPrototypeOf(fromRecord)).toBeNull();
    expect({ ...headersOf(['x-a', '1', 'Connection', 'keep-alive', 'x-a', '2']) }).toEqual({ 'x-a': '1, 2' });
    expect({ ...headersOf(new Map([['x-b', '3']]) as never) }).toEqual({ 'x-b': '3' });
    expect(headersOf(null).constructor).toBeUndefined();
  });
});

/** A handler that records what it is called with, in order. */
function recorder(onStart?: (c: DispatchController) => void) {
  const events: string[] = [];
  const chunks: Buffer[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  const handler: ControllerHandler = {
    onRequestStart: (c) => {
      events.push('start');
      onStart?.(c);
    },
    onResponseStart: (_c, status, headers) => events.push(`head ${status} ${headers['content-type']}`),
    onResponseData: (_c, chunk) => {
      chunks.push(chunk);
    },
    onResponseEnd: () => {
      events.push('end');
      finish();
    },
    onResponseError: (_c, error) => {
      events.push(`error ${error.message}`);
      finish();
    },
  };
  return { events, chunks, handler, finished };
}

const clientAnswering = (fetch: MeshClient['fetch']) => ({ fetch }) as unknown as MeshClient;

describe('DispatchCall', () => {
  it("feeds a MeshResponse's buffered body to the handler as a copy", async () => {
    const bytes = Buffer.from('{"ok":true}');
    const client = clientAnswering(
      async () => new MeshResponse(200, 'OK', { 'content-type': 'application/json' }, bytes),
    );
    const { events, chunks, handler, finished } = recorder();
    void new DispatchCall(handler).run(client, '/x', {}, false);
    await finished;
    expect(events).toEqual(['start', 'head 200 application/json', 'end']);
    expect(Buffer.concat(chunks).toString()).toBe('{"ok":true}');
    bytes.fill(0); // the socket buffer is reused: the handler's chunk is unchanged
    expect(Buffer.concat(chunks).toString()).toBe('{"ok":true}');
  });

  it('feeds a plain Response (an injected fault) and reports a failed call as an error', async () => {
    const plain = recorder();
    const faulty = clientAnswering(
      async () => new Response('nope', { status: 503, headers: { 'content-type': 'text/plain' } }),
    );
    void new DispatchCall(plain.handler).run(faulty, '/x', {}, false);
    await plain.finished;
    expect(plain.events).toEqual(['start', 'head 503 text/plain', 'end']);
    expect(Buffer.concat(plain.chunks).toString()).toBe('nope');

    const failed = recorder();
    void new DispatchCall(failed.handler).run(
      clientAnswering(() => Promise.reject(new Error('circuit open'))),
      '/x',
      {},
      false,
    );
    await failed.finished;
    expect(failed.events).toEqual(['start', 'error circuit open']);
  });

  it("aborting from the handler aborts the client's call through its signal, once", async () => {
    let signal: AbortSignal | undefined;
    const client = clientAnswering(
      (_path, init) =>
        new Promise((_resolve, reject) => {
          signal = init?.signal;
          signal?.addEventListener('abort', () => reject(signal?.reason));
        }),
    );
    let controller!: DispatchController;
    const { events, handler, finished } = recorder((c) => {
      controller = c;
    });
    void new DispatchCall(handler).run(client, '/x', {}, false);
    await Promise.resolve();
    controller.abort(new Error('caller gave up'));
    await finished;
    expect(signal?.aborted).toBe(true);
    expect(controller.aborted).toBe(true);
    expect(events).toEqual(['start', 'error caller gave up']);
  });
});
