import { type Command, type CommandContext, noMorePositionals } from '../command.ts';
import { CliError, EXIT, type ExitCode, usageError } from '../exit-codes.ts';
import { DEFAULT_PLAN, type RolloutOutcome, rollout } from '../rollout/controller.ts';
import { DEFAULT_JUDGE, type JudgeOptions } from '../rollout/judge.ts';
import { readServiceRollout } from '../rollout/read-rollout-state.ts';
import { stateKey } from '../rollout/rollout-state.ts';
import { formatRolloutStatus } from '../rollout/rollout-status-view.ts';
import { SIGNAL_SOURCE_OPTIONS, signalSourceFromFlags } from '../signals/source-flags.ts';

/** `5s`, `500ms`, `2m` or plain milliseconds. */
export function parseDuration(flag: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!m) throw usageError(`--${flag}: expected a duration like 5s, 500ms or 2m, got ${JSON.stringify(raw)}`);
  const n = Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1);
  if (!Number.isFinite(n) || n > 86_400_000) throw usageError(`--${flag}: at most 24h`);
  return Math.round(n);
}

function numberFlag(ctx: CommandContext, flag: string, min: number, max: number): number | undefined {
  const raw = ctx.values[flag];
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!(n >= min && n <= max))
    throw usageError(`--${flag}: expected a number ${min}-${max}, got ${JSON.stringify(raw)}`);
  return n;
}

function parseSteps(raw: string): number[] {
  const steps = raw.split(',').map((s) => s.trim());
  if (!steps.every((s) => /^\d+$/.test(s)))
    throw usageError(`--steps: expected whole percents like 1,5,25,50,100`);
  return steps.map(Number);
}

const EXIT_OF: Record<RolloutOutcome, ExitCode> = {
  promoted: EXIT.ok,
  'rolled-back': EXIT.rolledBack,
  paused: EXIT.paused,
  running: EXIT.paused,
  stopped: EXIT.paused,
  locked: EXIT.conflict,
  'lost-lock': EXIT.conflict,
  refused: EXIT.invalid,
  failed: EXIT.consul,
};

export const rolloutCommand: Command = {
  name: 'rollout',
  usage:
    '<service> --canary <subset> [--stable <subset>] [--steps 1,5,25,50,100] [--interval 5s] [--caller <svc>] ' +
    '[--min-requests n] [--alpha p] [--error-margin pct] [--latency-ratio x] [--max-error-percent pct] ' +
    '[--max-p99 ms] [--max-holds n] [--judge-every 1s] [--sequential-alpha p] [--resume | --restart] ' +
    '[--wait-lock 30s] | <service> --status',
  summary:
    'step a canary through a plan, judging it against stable at each step; roll back at once when worse',
  options: {
    canary: { type: 'string' },
    stable: { type: 'string' },
    steps: { type: 'string' },
    interval: { type: 'string' },
    caller: { type: 'string' },
    'min-requests': { type: 'string' },
    alpha: { type: 'string' },
    'error-margin': { type: 'string' },
    'latency-ratio': { type: 'string' },
    'max-error-percent': { type: 'string' },
    'max-p99': { type: 'string' },
    'max-holds': { type: 'string' },
    'judge-every': { type: 'string' },
    'sequential-alpha': { type: 'string' },
    'wait-lock': { type: 'string' },
    resume: { type: 'boolean' },
    restart: { type: 'boolean' },
    status: { type: 'boolean' },
    ...SIGNAL_SOURCE_OPTIONS,
  },
  async run(ctx) {
    const [service, ...rest] = ctx.positionals;
    if (!service || service.includes('/')) throw usageError('missing or invalid service name');
    noMorePositionals(rest);
    if (ctx.values.status) return printStatus(ctx, service);
    const canary = ctx.values.canary;
    if (typeof canary !== 'string' || canary === '') throw usageError('missing --canary <subset>');
    if (ctx.values.resume && ctx.values.restart)
      throw usageError('--resume and --restart exclude each other');
    const str = (k: string) => (typeof ctx.values[k] === 'string' ? (ctx.values[k] as string) : undefined);
    const judge: JudgeOptions = {
      ...DEFAULT_JUDGE,
      minRequests: numberFlag(ctx, 'min-requests', 1, 1e9) ?? DEFAULT_JUDGE.minRequests,
      alpha: numberFlag(ctx, 'alpha', 0, 0.5) ?? DEFAULT_JUDGE.alpha,
      errorMarginPercent: numberFlag(ctx, 'error-margin', 0, 100) ?? DEFAULT_JUDGE.errorMarginPercent,
      latencyRatio: numberFlag(ctx, 'latency-ratio', 1, 1000) ?? DEFAULT_JUDGE.latencyRatio,
      maxErrorPercent: numberFlag(ctx, 'max-error-percent', 0, 100),
      maxP99Ms: numberFlag(ctx, 'max-p99', 0, 3_600_000),
      sequentialAlpha: numberFlag(ctx, 'sequential-alpha', 1e-9, 0.5) ?? DEFAULT_JUDGE.sequentialAlpha,
    };
    // Every flag is checked before anything is opened.
    const judgeEveryMs =
      str('judge-every') === undefined ? undefined : parseDuration('judge-every', str('judge-every')!);
    const { connection, kvConnection } = ctx.consul();
    const signals = ctx.io.signals
      ? await ctx.io.signals(connection)
      : signalSourceFromFlags(ctx, connection);
    const result = await rollout({
      connection: kvConnection ?? connection,
      prefix: ctx.prefix,
      service,
      canary,
      stable: str('stable'),
      plan: str('steps') === undefined ? DEFAULT_PLAN : parseSteps(str('steps')!),
      intervalMs: str('interval') === undefined ? undefined : parseDuration('interval', str('interval')!),
      maxHolds: numberFlag(ctx, 'max-holds', 0, 10_000),
      judgeEveryMs,
      waitForLockMs:
        str('wait-lock') === undefined ? undefined : parseDuration('wait-lock', str('wait-lock')!),
      caller: str('caller'),
      resume: ctx.values.resume === true,
      restart: ctx.values.restart === true,
      judge,
      signals,
      signal: ctx.io.signal,
      log: (line) => ctx.io.err(line),
    }).finally(() => (signals as { close?: () => Promise<void> }).close?.());
    if (ctx.json)
      ctx.io.json({ outcome: result.outcome, reason: result.reason, state: result.state ?? null });
    else ctx.io.out(`${result.outcome}: ${result.reason}`);
    return EXIT_OF[result.outcome];
  },
};

/** The same section `meshless status <service>` prints (one formatter: KV text made printable). */
async function printStatus(ctx: CommandContext, service: string): Promise<number> {
  const rollout = await readServiceRollout(ctx.consul(), ctx.prefix, service);
  if (!rollout)
    throw new CliError(EXIT.notFound, `not found: no rollout state at ${stateKey(ctx.prefix, service)}`);
  if (ctx.json && rollout.state) ctx.io.json(rollout.state);
  else for (const line of formatRolloutStatus(service, ctx.prefix, rollout)) ctx.io.out(line);
  return rollout.state ? EXIT.ok : EXIT.notFound;
}
