import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { PAGE_SCRIPT, PAGE_STYLE, renderPage } from './page.ts';
import type { DashboardView } from './view.ts';

export interface DashboardHandlerOptions {
  /** The newest view (the poller's). */
  readonly view: () => DashboardView;
  /** The port the server listens on: a Host header must name it. */
  readonly port: () => number;
  /** New views as they are read, for `GET /api/events`; without it that path is 404. */
  readonly subscribe?: (listener: (view: DashboardView) => void) => () => void;
}

// Open event streams at most; more get 503 (and the page falls back to polling).
export const MAX_EVENT_STREAMS = 16;
// A stream whose client reads slower than this much buffered output is dropped, not buffered.
const MAX_STREAM_BUFFER = 1 << 20;

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

// Only the page's own script and style run; no other origin, no framing, no forms.
const CSP = [
  "default-src 'none'",
  `script-src ${sha256(PAGE_SCRIPT)}`,
  `style-src ${sha256(PAGE_STYLE)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = renderPage();

/**
 * Accepts a Host header naming an IP literal or `localhost` on the listening port. A DNS
 * rebinding attack reaches the server under the attacker's host name, which this refuses, so
 * a page on another site cannot read the fleet through the operator's browser.
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host || host.length > 300) return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host);
  if (!m) return false;
  const name = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  const givenPort = m[2] === undefined ? 80 : Number(m[2]);
  if (givenPort !== port) return false;
  return name.toLowerCase() === 'localhost' || isIP(name) !== 0;
}

function send(res: ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    ...(type.startsWith('text/html') ? { 'content-security-policy': CSP } : {}),
  });
  res.end(head ? undefined : body);
}

const ROUTES: Record<string, true> = { '/': true, '/api/fleet': true, '/api/events': true };

/**
 * `GET /` the page, `GET /api/fleet` the view as JSON, `GET /api/events` each new view as a
 * server-sent event; nothing else. No CORS headers, ever.
 */
export function dashboardHandler(options: DashboardHandlerOptions) {
  let streams = 0;
  const stream = (res: ServerResponse): void => {
    if (streams >= MAX_EVENT_STREAMS) {
      send(res, 503, 'text/plain; charset=utf-8', 'too many event streams\n', false);
      return;
    }
    streams++;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    const push = (view: DashboardView) => {
      if (res.writableLength > MAX_STREAM_BUFFER) res.destroy();
      else res.write(`data: ${JSON.stringify(view)}\n\n`);
    };
    const unsubscribe = options.subscribe!(push);
    res.on('close', () => {
      streams--;
      unsubscribe();
    });
    push(options.view());
  };
  return (req: IncomingMessage, res: ServerResponse): void => {
    try {
      if (!hostAllowed(req.headers.host, options.port())) {
        send(res, 421, 'text/plain; charset=utf-8', 'unexpected Host header\n', false);
        return;
      }
      const path = (req.url ?? '/').split('?')[0]!;
      if (!ROUTES[path] || (path === '/api/events' && !options.subscribe)) {
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n', req.method === 'HEAD');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', false);
        return;
      }
      const head = req.method === 'HEAD';
      if (path === '/api/events') {
        if (head) send(res, 200, 'text/event-stream', '', true);
        else stream(res);
      } else if (path === '/') send(res, 200, 'text/html; charset=utf-8', PAGE, head);
      else send(res, 200, 'application/json', JSON.stringify(options.view()), head);
    } catch {
      // A view that fails to serialise is a bug, not the caller's fault; the server stays up.
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n', false);
      else res.destroy();
    }
  };
}
