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
}

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

const ROUTES: Record<string, true> = { '/': true, '/api/fleet': true };

/** `GET /` the page, `GET /api/fleet` the view as JSON; nothing else. No CORS headers, ever. */
export function dashboardHandler(options: DashboardHandlerOptions) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    try {
      if (!hostAllowed(req.headers.host, options.port())) {
        send(res, 421, 'text/plain; charset=utf-8', 'unexpected Host header\n', false);
        return;
      }
      const path = (req.url ?? '/').split('?')[0]!;
      if (!ROUTES[path]) {
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n', req.method === 'HEAD');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', false);
        return;
      }
      const head = req.method === 'HEAD';
      if (path === '/') send(res, 200, 'text/html; charset=utf-8', PAGE, head);
      else send(res, 200, 'application/json', JSON.stringify(options.view()), head);
    } catch {
      // A view that fails to serialise is a bug, not the caller's fault; the server stays up.
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n', false);
      else res.destroy();
    }
  };
}
