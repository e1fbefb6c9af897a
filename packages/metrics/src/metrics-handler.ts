import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the handler reads: prom-client's Registry fits. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** A node:http / Express handler: `server.on('request', handler)` or `app.get('/metrics', handler)`. */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Serves the registry's text with its content type (Prometheus 0.0.4 or OpenMetrics). Only
 * GET and HEAD; a failing collector answers 500 instead of throwing into the server.
 */
export function createMetricsHandler(source: MetricsSource): MetricsHandler {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.end();
      return;
    }
    let text: Promise<string>;
    try {
      text = source.metrics();
    } catch (error) {
      text = Promise.reject(error);
    }
    text.then(
      (body) => {
        res.statusCode = 200;
        res.setHeader('Content-Type', source.contentType);
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(`# metrics collection failed: ${(error as Error)?.message ?? String(error)}\n`);
      },
    );
  };
}
