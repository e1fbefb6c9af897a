import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { BUFFER_LIMIT, OpenRequests, ResponseHandler } from './response-handler.ts';

/** A controller as undici hands it to a handler, recording what the handler asks of it. */
function fakeController() {
  const calls: string[] = [];
  const controller = {
    aborted: false,
    paused: false,
    reason: null as Error | null,
    abort(reason: Error) {
      calls.push('abort');
      controller.aborted = true;
      controller.reason = reason;
    },
    pause() {
      calls.push('pause');
      controller.paused = true;
    },
    resume() {
      calls.push('resume');
      controller.paused = false;
    },
  };
  return { controller: controller as Dispatcher.DispatchController, calls };
}

const json = { 'content-type': 'application/json', 'content-length': '9' };

describe('ResponseHandler', () => {
  it('collects a small body from several chunks into one buffer and answers at its end', async () => {
    const { controller } = fakeController();
    const handler = new ResponseHandler(false, null, false);
    handler.onRequestStart(controller);
    handler.onResponseStart(controller, 100, {}, 'Continue'); // informational: ignored
    handler.onResponseStart(controller, 200, json, 'OK');
    const socketBuffer = Buffer.from('xx{"id":42}');
    handler.onResponseData(controller, socketBuffer.subarray(2, 6));
    handler.onResponseData(controller, socketBuffer.subarray(6));
    let answered = false;
    void handler.promise.then(() => {
      answered = true;
    });
    await Promise.resolve();
    expect(answered).toBe(false);
    handler.onResponseEnd();
    const res = await handler.promise;
    expect(res.status).toBe(200);
    expect(res.statusText).toBe('OK');
    expect(res.headers['content-type']).toBe('application/json');
    expect(new TextDecoder().decode(res.body as Uint8Array)).toBe('{"id":42}');
  });

  it('streams a large or unsized body with back-pressure, and cancelling it aborts the request', async () => {
    const { controller, calls } = fakeController();
    const handler = new ResponseHandler(false, null, false);
    handler.onRequestStart(controller);
    handler.onResponseStart(controller, 200, { 'content-length': String(BUFFER_LIMIT + 1) });
    const res = await handler.promise;
    const body = res.body as Readable;
    expect(body).toBeInstanceOf(Readable);
    const big = Buffer.alloc(64 * 1024);
    handler.onResponseData(controller, big);
    expect(calls).toContain('pause');
    body.read();
    expect(calls).toContain('resume');
    body.destroy();
    expect(calls).toContain('abort');
    // undici's name and code for an abort, which is what undici and transport.ts go by
    expect(controller.reason).toMatchObject({ name: 'AbortError', code: 'UND_ERR_ABORTED' });
  });

  it('rejects with the abort reason as given, even when it is not an Error (as fetch does)', async () => {
    const { controller, calls } = fakeController();
    const handler = new ResponseHandler(false, null, false);
    handler.onRequestStart(controller);
    handler.abort('user left');
    await expect(handler.promise).rejects.toBe('user left');
    expect(calls).toEqual(['abort']);
    expect(controller.reason).toBeInstanceOf(Error); // undici is given an Error
  });

  it('fails the call when aborted before a connection took it, and aborts it once it starts', async () => {
    const handler = new ResponseHandler(false, null, false);
    const reason = new Error('timeout');
    handler.abort(reason);
    await expect(handler.promise).rejects.toBe(reason);
    expect(handler.aborted).toBe(true);
    const { controller, calls } = fakeController();
    handler.onRequestStart(controller);
    expect(calls).toEqual(['abort']);
    expect(controller.reason).toBe(reason);
  });

  it('follows a linked signal until the body is done, then lets go of it', async () => {
    const signal = new AbortController();
    const handler = new ResponseHandler(false, null, false);
    handler.link(signal.signal);
    const { controller, calls } = fakeController();
    handler.onRequestStart(controller);
    handler.onResponseStart(controller, 200, {}); // unsized: streamed
    const body = (await handler.promise).body as Readable;
    const errored = new Promise((resolve) => body.on('error', resolve));
    const reason = new Error('caller left');
    signal.abort(reason);
    expect(calls).toEqual(['abort']);
    expect(await errored).toBe(reason);

    const done = new AbortController();
    const second = new ResponseHandler(false, null, false);
    second.link(done.signal);
    const c2 = fakeController();
    second.onRequestStart(c2.controller);
    second.onResponseStart(c2.controller, 200, json);
    second.onResponseEnd();
    await second.promise;
    done.abort(new Error('late'));
    expect(c2.calls).toEqual([]);
  });

  it('rejects on a connection error, destroying a streamed request body', async () => {
    const upload = Readable.from(['a', 'b']);
    const handler = new ResponseHandler(false, upload, false);
    const error = new Error('ECONNRESET');
    handler.onResponseError(null, error);
    await expect(handler.promise).rejects.toBe(error);
    expect(upload.destroyed).toBe(true);
  });

  it('answers without a body for HEAD, 204 and mirrors, dropping what arrives', async () => {
    for (const [head, status, discard] of [
      [true, 200, false],
      [false, 204, false],
      [false, 200, true],
    ] as const) {
      const { controller } = fakeController();
      const handler = new ResponseHandler(head, null, discard);
      handler.onRequestStart(controller);
      handler.onResponseStart(controller, status, json);
      const res = await handler.promise;
      expect(res.body).toBeNull();
      handler.onResponseData(controller, Buffer.from('ignored'));
      handler.onResponseEnd();
    }
  });

  it('reads a 5xx whole whatever its size, and rejects a response that ends before its head', async () => {
    const { controller } = fakeController();
    const handler = new ResponseHandler(false, null, false);
    handler.onRequestStart(controller);
    handler.onResponseStart(controller, 503, {}); // unsized
    handler.onResponseData(controller, Buffer.from('down'));
    handler.onResponseEnd();
    const res = await handler.promise;
    expect(new TextDecoder().decode(res.body as Uint8Array)).toBe('down');

    const early = new ResponseHandler(false, null, false);
    early.onRequestStart(fakeController().controller);
    early.onResponseEnd();
    // a broken connection as undici reports one: transport.ts makes it a ConnectionResetError
    await expect(early.promise).rejects.toMatchObject({
      message: 'the response ended before its head',
      code: 'UND_ERR_SOCKET',
    });
  });

  it('keeps open requests in a list until they end, so close() can abort what is left', async () => {
    const open = new OpenRequests();
    const done = new ResponseHandler(false, null, false);
    const streaming = new ResponseHandler(false, null, false);
    const waiting = new ResponseHandler(false, null, false);
    for (const h of [done, streaming, waiting]) open.add(h);
    expect(open.size).toBe(3);
    const c1 = fakeController();
    done.onRequestStart(c1.controller);
    done.onResponseStart(c1.controller, 200, json);
    done.onResponseEnd();
    expect(open.size).toBe(2);
    const c2 = fakeController();
    streaming.onRequestStart(c2.controller);
    streaming.onResponseStart(c2.controller, 200, {}); // unsized: streamed, and nobody reads it
    const body = (await streaming.promise).body as Readable;
    const closing = new Error('closing');
    open.abortAll(closing);
    expect(open.size).toBe(0);
    expect(c2.calls).toContain('abort');
    await expect(waiting.promise).rejects.toBe(closing);
    // The unread body failed without an unhandled 'error' event; a reader still gets the error.
    expect(body.destroyed).toBe(true);
    await expect(body.toArray()).rejects.toBe(closing);
  });
});
