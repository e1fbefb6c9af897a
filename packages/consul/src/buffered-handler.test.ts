import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { BufferedHandler } from './buffered-handler.ts';

/** A controller as undici hands it to a handler, recording aborts. */
function fakeController() {
  const aborted: Error[] = [];
  const controller = {
    aborted: false,
    paused: false,
    reason: null,
    abort: (reason: Error) => aborted.push(reason),
    pause() {},
    resume() {},
  } as unknown as Dispatcher.DispatchController;
  return { controller, aborted };
}

describe('BufferedHandler', () => {
  it('collects the whole body after the final head, skipping informational answers', async () => {
    const { controller } = fakeController();
    const handler = new BufferedHandler(undefined);
    handler.onRequestStart(controller);
    handler.onResponseStart(controller, 100, {});
    handler.onResponseStart(controller, 200, { 'x-consul-index': '42' });
    handler.onResponseData(controller, Buffer.from('[{"Key":'));
    handler.onResponseData(controller, Buffer.from('"a"}]'));
    handler.onResponseEnd();
    const res = await handler.promise;
    expect(res.status).toBe(200);
    expect(res.headers['x-consul-index']).toBe('42');
    expect(res.body.toString()).toBe('[{"Key":"a"}]');
  });

  it("rejects with the signal's reason, aborting the request whenever it fires", async () => {
    const early = new AbortController();
    const reason = new Error('stopped');
    early.abort(reason);
    const before = new BufferedHandler(early.signal);
    expect(before.done).toBe(true);
    await expect(before.promise).rejects.toBe(reason);
    const late = fakeController();
    before.onRequestStart(late.controller); // a queued request that starts anyway is aborted at once
    expect(late.aborted).toEqual([reason]);

    const during = new AbortController();
    const handler = new BufferedHandler(during.signal);
    const { controller, aborted } = fakeController();
    handler.onRequestStart(controller);
    during.abort('shutdown'); // not an Error: wrapped, with the reason as cause
    const error = (await handler.promise.catch((e: unknown) => e)) as Error;
    expect(error.cause).toBe('shutdown');
    expect(aborted).toEqual([error]);
  });

  it('rejects on a connection error and lets go of the signal once settled', async () => {
    const signal = new AbortController();
    const handler = new BufferedHandler(signal.signal);
    const { controller, aborted } = fakeController();
    handler.onRequestStart(controller);
    handler.onResponseError(controller, new Error('ECONNREFUSED'));
    await expect(handler.promise).rejects.toThrow('ECONNREFUSED');
    signal.abort(new Error('later'));
    expect(aborted).toEqual([]);
  });
});
