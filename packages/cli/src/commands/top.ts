import type { Command, CommandContext } from '../command.ts';
import { EXIT, usageError } from '../exit-codes.ts';
import type { FleetView } from '../fleet-view/model.ts';
import { type FleetReportSource, readFleetView } from '../fleet-view/read.ts';
import { renderFrame } from '../fleet-view/render.ts';
import { SIGNAL_SOURCE_OPTIONS, signalSourceFromFlags } from '../signals/source-flags.ts';
import { parseDuration } from './rollout.ts';

const DEFAULT_INTERVAL_MS = 2000;
const DEFAULT_WINDOW_MS = 10_000;
const MIN_INTERVAL_MS = 200;
const MAX_INTERVAL_MS = 3_600_000;
const MAX_SERVICES = 100;

// Alternate screen and hidden cursor while live; each frame homes the cursor and overwrites
// line by line (erase to end of line, then below), so nothing is cleared between frames: no flicker.
const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const EOL = '\x1b[K';
const BELOW = '\x1b[J';

interface Terminal {
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
}

export const topCommand: Command = {
  name: 'top',
  usage:
    '[service...] [--interval 2s] [--window 10s] [--prometheus <url> | --as <service>] [--json] [--once]',
  summary:
    'a live view of the fleet per service and version: RPS, success, p50/p95/p99, rule state, ejected endpoints, open breakers, edges, rollouts',
  options: {
    interval: { type: 'string' },
    window: { type: 'string' },
    ...SIGNAL_SOURCE_OPTIONS,
    once: { type: 'boolean' },
  },
  async run(ctx) {
    const services = [...new Set(ctx.positionals)];
    for (const s of services) {
      if (s === '' || s.includes('/') || s.length > 256)
        throw usageError(`invalid service name ${JSON.stringify(s.slice(0, 64))}`);
    }
    if (services.length > MAX_SERVICES) throw usageError(`at most ${MAX_SERVICES} services`);
    const intervalMs = duration(ctx, 'interval', DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, MAX_INTERVAL_MS);
    const windowMs = duration(ctx, 'window', DEFAULT_WINDOW_MS, 1000, 3_600_000);
    const once = ctx.values.once === true;
    const session = ctx.consul();

    const source: FleetReportSource & { close?: () => Promise<void> } = signalSourceFromFlags(
      ctx,
      session.connection,
    );
    const read = () =>
      readFleetView({
        source,
        session,
        prefix: ctx.prefix,
        windowMs,
        ...(services.length > 0 ? { services } : {}),
      });

    try {
      if (once) {
        const view = await read();
        if (ctx.json) ctx.io.json(view);
        else for (const line of renderFrame(view)) ctx.io.out(line);
        return EXIT.ok;
      }
      await live(ctx, read, intervalMs, windowMs, () => source.close?.());
      return EXIT.ok;
    } finally {
      await source.close?.();
    }
  },
};

function duration(ctx: CommandContext, flag: string, fallback: number, min: number, max: number): number {
  const raw = ctx.values[flag];
  if (raw === undefined) return fallback;
  const ms = parseDuration(flag, String(raw));
  if (ms < min || ms > max) throw usageError(`--${flag}: expected ${min} ms to ${max / 1000} s, got ${raw}`);
  return ms;
}

/** Refreshes every `intervalMs` until the io's signal aborts; a failed refresh is shown, not thrown. */
async function live(
  ctx: CommandContext,
  read: () => Promise<FleetView>,
  intervalMs: number,
  windowMs: number,
  interrupt: () => unknown,
): Promise<void> {
  const signal = ctx.io.signal;
  const term = ctx.io.stdout as Terminal;
  const tty = term.isTTY === true && !ctx.json;
  // Stop a read in progress too (the first one waits a whole window): closing the source rejects it.
  const onAbort = () => void Promise.resolve(interrupt()).catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  if (tty)
    ctx.io.stdout.write(
      `${ENTER}${HOME}meshless top: reading the fleet over ${windowMs / 1000}s...${EOL}${BELOW}`,
    );
  let last: FleetView | undefined;
  try {
    while (!signal?.aborted) {
      const started = performance.now();
      let error: string | undefined;
      try {
        last = await read();
      } catch (e) {
        if (signal?.aborted) break;
        error = String((e as Error)?.message ?? e).slice(0, 500);
      }
      if (ctx.json) {
        ctx.io.stdout.write(`${JSON.stringify(error === undefined ? last : { at: Date.now(), error })}\n`);
      } else {
        const lines = last
          ? renderFrame(last, {
              ...(tty && term.columns ? { columns: term.columns } : {}),
              ...(tty && term.rows ? { rows: term.rows } : {}),
              ...(error !== undefined ? { error } : {}),
            })
          : [`meshless top: refresh failed: ${error}`];
        if (tty) ctx.io.stdout.write(`${HOME}${lines.map((l) => l + EOL).join('\n')}${BELOW}`);
        else ctx.io.stdout.write(`${lines.join('\n')}\n\n`);
      }
      await pause(Math.max(0, intervalMs - (performance.now() - started)), signal);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (tty) ctx.io.stdout.write(LEAVE);
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
