import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { type Command, intOption, noMorePositionals } from '../command.ts';
import { FleetPoller } from '../dashboard/fleet-poller.ts';
import { dashboardHandler } from '../dashboard/handler.ts';
import { EXIT, usageError } from '../exit-codes.ts';
import { readRuleStatuses } from '../fleet-view/read.ts';
import { SIGNAL_SOURCE_OPTIONS, signalSourceFromFlags } from '../signals/source-flags.ts';
import { parseDuration } from './rollout.ts';

const DEFAULT_INTERVAL_MS = 2000;
const DEFAULT_WINDOW_MS = 10_000;

export const dashboardCommand: Command = {
  name: 'dashboard',
  usage: '[--port 0] [--host 127.0.0.1] [--interval 2s] [--window 10s] [--prometheus <url> | --as <service>]',
  summary: 'a local web page: the fleet by service and version, the service graph, running rollouts',
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    interval: { type: 'string' },
    window: { type: 'string' },
    ...SIGNAL_SOURCE_OPTIONS,
  },
  async run(ctx) {
    noMorePositionals(ctx.positionals);
    const port = intOption(ctx, 'port', 0) ?? 0;
    if (port > 65535) throw usageError(`--port: expected 0-65535, got ${port}`);
    const host = typeof ctx.values.host === 'string' ? ctx.values.host : '127.0.0.1';
    if (isIP(host) === 0 && host !== 'localhost')
      throw usageError(`--host: expected an IP address or localhost, got ${JSON.stringify(host)}`);
    const str = (k: string) => (typeof ctx.values[k] === 'string' ? (ctx.values[k] as string) : undefined);
    const intervalMs =
      str('interval') === undefined ? DEFAULT_INTERVAL_MS : parseDuration('interval', str('interval')!);
    const windowMs =
      str('window') === undefined ? DEFAULT_WINDOW_MS : parseDuration('window', str('window')!);
    if (intervalMs < 500) throw usageError('--interval: at least 500ms');
    if (windowMs < 1000) throw usageError('--window: at least 1s');

    const session = ctx.consul();
    const source = signalSourceFromFlags(ctx, session.connection);
    const poller = new FleetPoller({
      read: (w) => source.read(w),
      kv: session.kv,
      prefix: ctx.prefix,
      statuses: (services) => readRuleStatuses(session, ctx.prefix, services),
      intervalMs,
      windowMs,
      onError: (message) => ctx.io.err(`dashboard: reading the fleet failed: ${message}`),
    });
    const server = createServer(
      dashboardHandler({
        view: () => poller.current(),
        port: () => bound,
        subscribe: (listener) => poller.subscribe(listener),
      }),
    );
    // A browser keeps connections open; idle ones must not hold the server past close().
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.maxConnections = 64;
    let bound = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await source.close?.();
      const code = (error as { code?: string }).code;
      throw usageError(`cannot listen on ${host}:${port}: ${code ?? String(error)}`);
    }
    bound = (server.address() as AddressInfo).port;
    poller.start();
    const shown = host.includes(':') ? `[${host}]` : host;
    ctx.io.out(`meshless dashboard at http://${shown}:${bound}/ (reading the fleet every ${intervalMs} ms)`);
    if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost')
      ctx.io.err(
        `dashboard: listening on ${host}: anyone who can reach it sees the fleet (there is no login)`,
      );

    const signal = ctx.io.signal;
    await new Promise<void>((resolve) => {
      if (!signal) return; // runs until the process ends
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    // The poller stops first, so the reading that closing the source ends (a first reading waits
    // out its window) is not reported as a failure.
    const stopped = poller.close();
    await source.close?.();
    await stopped;
    return EXIT.ok;
  },
};
