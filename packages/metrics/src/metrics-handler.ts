import type { ServerResponse } from 'node:http';

/** What the handler reads: prom-client's Registry fits. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** The part of a Fastify reply the handler uses (Fastify's reply has no `setHeader`). */
export interface ReplyLike {
  code(statusCode: number): unknown;
  header(name: string, value: string): unknown;
  send(payload?: string): unknown;
}

/**
 * A `/metrics` handler for node:http (`server.on('request', handler)`), Express
 * (`app.get('/metrics', handler)`) and Fastify (`fastify.get('/metrics', handler)`): it answers
 * on a node:http response or on a Fastify reply, whichever it is given.
 */
export type MetricsHandler = (
  req: { readonly method?: string | undefined },
  res: ServerResponse | ReplyLike,
) => void;

function answer(
  res: ServerResponse | ReplyLike,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string | undefined,
): void {
  if ('setHeader' in res && typeof res.setHeader === 'function') {
    res.statusCode = status;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.end(body);
    return;
  }
  const reply = res as ReplyLike;
  reply.code(status);
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  // Fastify strips the body of a HEAD answer itself (and keeps its content-length).
  reply.send(body ?? '');
}

/**
 * Serves the registry's text with its content type (Prometheus 0.0.4 or OpenMetrics). Only
 * GET and HEAD; a failing collector answers 500 instead of throwing into the server.
 */
export function createMetricsHandler(source: MetricsSource): MetricsHandler {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(res, 405, { Allow: 'GET, HEAD' }, undefined);
      return;
    }
    let text: Promise<string>;
    try {
      text = source.metrics();
    } catch (error) {
      text = Promise.reject(error);
    }
    text
      .then(
        (body) =>
          answer(res, 200, { 'Content-Type': source.contentType }, req.method === 'HEAD' ? undefined : body),
        (error: unknown) =>
          answer(
            res,
            500,
            { 'Content-Type': 'text/plain; charset=utf-8' },
            `# metrics collection failed: ${(error as Error)?.message ?? String(error)}\n`,
          ),
      )
      // Answering itself failed (the connection is gone, the response was already sent): nothing
      // left to tell the scraper, and nothing may reach the process as an unhandled rejection.
      .catch(() => {});
  };
}

/** A handler that answers every scrape with `status` and a one-line text, e.g. when metrics are off. */
export function createStaticMetricsHandler(status: number, text: string): MetricsHandler {
  return (_req, res) => answer(res, status, { 'Content-Type': 'text/plain; charset=utf-8' }, text);
}
