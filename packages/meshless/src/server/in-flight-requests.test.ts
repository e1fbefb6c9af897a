import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InFlightRequests } from './in-flight-requests.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A real server whose handler tracks each response and keeps it until the test answers it. */
async function tracked(tracker: InFlightRequests): Promise<{ url: string; held: ServerResponse[] }> {
  const held: ServerResponse[] = [];
  server = createServer((_req, res) => {
    if (tracker.track(res)) held.push(res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, held };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(check()).toBe(true);
}

describe('InFlightRequests', () => {
  it('serves requests that arrive while draining on their last connection, refuses those after at once', async () => {
    const tracker = new InFlightRequests();
    const { url, held } = await tracked(tracker);
    const before = fetch(`${url}/before`);
    await until(() => held.length === 1);
    tracker.drain();
    const during = fetch(`${url}/during`);
    await until(() => held.length === 2);
    held[0]!.end('one');
    held[1]!.end('two');
    const [a, b] = await Promise.all([before, during]);
    expect([a.headers.get('connection'), await a.text()]).toEqual(['keep-alive', 'one']);
    expect([b.headers.get('connection'), await b.text()]).toEqual(['close', 'two']);
    const settled = tracker.settle(5000);
    expect(await settled).toBe(0);
    const after = await fetch(`${url}/after`);
    expect(after.status).toBe(503);
    expect(after.headers.get('connection')).toBe('close');
    expect(after.headers.get('retry-after')).toBe('1');
    expect(await after.json()).toEqual({ error: 'shutting_down' });
    // Refused before the handler saw it: nothing more to follow.
    expect(held.length).toBe(2);
    expect(tracker.size).toBe(0);
  });

  it('forgets a response once it is answered (keep-alive or not) or its caller goes away', async () => {
    const tracker = new InFlightRequests();
    const { url, held } = await tracked(tracker);
    const answered = fetch(`${url}/a`);
    const abort = new AbortController();
    const abandoned = fetch(`${url}/b`, { signal: abort.signal }).catch(() => 'aborted');
    await until(() => held.length === 2);
    expect(tracker.size).toBe(2);
    held[0]!.end('ok');
    expect(await (await answered).text()).toBe('ok');
    abort.abort();
    expect(await abandoned).toBe('aborted');
    await until(() => tracker.size === 0);
    // Nothing left: settle resolves at once, cutting nothing.
    const started = performance.now();
    expect(await tracker.settle(5000)).toBe(0);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('gives requests the grace to finish, then cuts a stream whose answer had started', async () => {
    const tracker = new InFlightRequests();
    const { url, held } = await tracked(tracker);
    const quick = fetch(`${url}/quick`).then((r) => r.text());
    const stream = fetch(`${url}/stream`).then((r) => r.text().catch(() => 'cut'));
    await until(() => held.length === 2);
    held[1]!.writeHead(200).write('partial');
    setTimeout(() => held[0]!.end('done'), 50);
    const started = performance.now();
    expect(await tracker.settle(300)).toBe(1);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await quick).toBe('done');
    expect(await stream).toBe('cut');
  });
});
