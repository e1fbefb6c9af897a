import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dashboardHandler, hostAllowed, MAX_EVENT_STREAMS } from './handler.ts';
import { PAGE_SCRIPT, renderPage } from './page.ts';
import { type DashboardView, emptyView } from './view.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function start(
  view = emptyView(2000, 10_000),
  subscribe?: (listener: (view: DashboardView) => void) => () => void,
) {
  let port = 0;
  const server = createServer(
    dashboardHandler({ view: () => view, port: () => port, ...(subscribe ? { subscribe } : {}) }),
  );
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  return port;
}

/** A raw request, so the Host header is exactly what the test says (fetch would set its own). */
function send(port: number, method: string, path: string, host = `127.0.0.1:${port}`) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers: { host } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe('dashboard HTTP handler', () => {
  it('serves the page with a CSP that allows only its own inline script, and the view as JSON', async () => {
    const port = await start();
    const page = await send(port, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toBe(renderPage());
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers['x-frame-options']).toBe('DENY');
    // No CORS: another origin's script cannot read the answers.
    expect(page.headers['access-control-allow-origin']).toBeUndefined();

    const api = await send(port, 'GET', '/api/fleet?x=1');
    expect(api.status).toBe(200);
    expect(api.headers['content-type']).toBe('application/json');
    expect(api.headers['access-control-allow-origin']).toBeUndefined();
    expect(JSON.parse(api.body)).toMatchObject({ at: 0, intervalMs: 2000, windowMs: 10_000, rows: [] });

    const head = await send(port, 'HEAD', '/api/fleet');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const port = await start();
    expect((await send(port, 'GET', '/nope')).status).toBe(404);
    expect((await send(port, 'GET', '/api/fleet/x')).status).toBe(404);
    const post = await send(port, 'POST', '/api/fleet');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await send(port, 'DELETE', '/')).status).toBe(405);
    expect((await send(port, 'OPTIONS', '/api/fleet')).status).toBe(405);
  });

  it('refuses a Host header that names another host or port (DNS rebinding)', async () => {
    const port = await start();
    expect((await send(port, 'GET', '/api/fleet', `evil.example:${port}`)).status).toBe(421);
    expect((await send(port, 'GET', '/api/fleet', `127.0.0.1:${port + 1}`)).status).toBe(421);
    expect((await send(port, 'GET', '/', `localhost.evil.example:${port}`)).status).toBe(421);
    expect((await send(port, 'GET', '/api/fleet', `localhost:${port}`)).status).toBe(200);
    expect((await send(port, 'GET', '/api/fleet', `[::1]:${port}`)).status).toBe(200);
  });

  it('streams each new view as a server-sent event, to a bounded number of clients', async () => {
    const listeners = new Set<(view: DashboardView) => void>();
    const port = await start(emptyView(2000, 10_000), (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    });
    const events: string[] = [];
    let gotEvent: () => void = () => {};
    const req = request({ host: '127.0.0.1', port, path: '/api/events' });
    const opened = new Promise<import('node:http').IncomingMessage>((resolve) => req.on('response', resolve));
    req.end();
    const res = await opened;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      events.push(...chunk.split('\n\n').filter((e) => e.startsWith('data: ')));
      gotEvent();
    });
    const next = (n: number) =>
      new Promise<void>((resolve) => {
        gotEvent = () => events.length >= n && resolve();
        gotEvent();
      });
    await next(1); // the current view at once
    expect(JSON.parse(events[0]!.slice(6))).toMatchObject({ at: 0 });
    for (const l of listeners) l({ ...emptyView(2000, 10_000), at: 42 });
    await next(2);
    expect(JSON.parse(events[1]!.slice(6))).toMatchObject({ at: 42 });

    // One stream is open; up to the bound more are accepted, then 503.
    const extra = [];
    const clients = [req];
    for (let i = 1; i < MAX_EVENT_STREAMS; i++) {
      const r = request({ host: '127.0.0.1', port, path: '/api/events' });
      clients.push(r);
      extra.push(new Promise<number>((resolve) => r.on('response', (x) => resolve(x.statusCode!))));
      r.end();
    }
    expect(await Promise.all(extra)).toEqual(Array(MAX_EVENT_STREAMS - 1).fill(200));
    expect((await send(port, 'GET', '/api/events')).status).toBe(503);
    expect(listeners.size).toBe(MAX_EVENT_STREAMS);
    // Clients gone: their subscriptions end with them (nothing left to push to).
    for (const c of clients) c.destroy();
    const deadline = Date.now() + 5000;
    while (listeners.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(listeners.size).toBe(0);
  });

  it('has no event stream without a source of views', async () => {
    const port = await start();
    expect((await send(port, 'GET', '/api/events')).status).toBe(404);
  });

  it('hostAllowed: IP literals and localhost on the port only', () => {
    expect(hostAllowed('127.0.0.1:8080', 8080)).toBe(true);
    expect(hostAllowed('LOCALHOST:8080', 8080)).toBe(true);
    expect(hostAllowed('10.1.2.3:8080', 8080)).toBe(true);
    expect(hostAllowed('[::1]:8080', 8080)).toBe(true);
    expect(hostAllowed('127.0.0.1', 80)).toBe(true);
    expect(hostAllowed('127.0.0.1', 8080)).toBe(false);
    expect(hostAllowed('rebind.example:8080', 8080)).toBe(false);
    expect(hostAllowed('127.0.0.1:8080:1', 8080)).toBe(false);
    expect(hostAllowed('[::1', 8080)).toBe(false);
    expect(hostAllowed(undefined, 8080)).toBe(false);
    expect(hostAllowed(`${'a'.repeat(400)}:1`, 1)).toBe(false);
  });

  it('the page script never writes HTML from data', () => {
    expect(PAGE_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    expect(() => new Function(PAGE_SCRIPT)).not.toThrow(); // it parses
  });
});
