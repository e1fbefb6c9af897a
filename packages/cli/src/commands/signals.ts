import type { SignalFigures } from 'meshless/contract';
import { type Command, intOption } from '../command.ts';
import { EXIT, usageError } from '../exit-codes.ts';
import type { FleetSignalsReport } from '../signals/fleet-signals.ts';
import { SIGNAL_SOURCE_OPTIONS, signalSourceFromFlags } from '../signals/source-flags.ts';
import { formatTable } from '../table.ts';

const DEFAULT_WINDOW_MS = 10_000;

export const signalsCommand: Command = {
  name: 'signals',
  usage: '[service...] [--window <ms>] [--prometheus <url>] [--as <service>]',
  summary:
    "the fleet's golden signals over a window: RPS, success rate, p50/p95/p99 per subset, per edge and per version",
  options: { window: { type: 'string' }, ...SIGNAL_SOURCE_OPTIONS },
  async run(ctx) {
    for (const s of ctx.positionals) {
      if (s === '' || s.includes('/')) throw usageError(`invalid service name ${JSON.stringify(s)}`);
    }
    const windowMs = intOption(ctx, 'window', 1000) ?? DEFAULT_WINDOW_MS;
    // The fleet reader reads each instance twice, `windowMs` apart: what happened in between.
    const source = signalSourceFromFlags(ctx, ctx.consul().connection, ctx.positionals);
    let report: FleetSignalsReport;
    try {
      report = await source.read(windowMs);
    } finally {
      await source.close?.();
    }
    if (ctx.json) {
      ctx.io.json(report);
      return EXIT.ok;
    }
    printReport(ctx.io.out.bind(ctx.io), report, ctx.positionals);
    return EXIT.ok;
  },
};

const FIGURES = ['RPS', 'SUCCESS', 'P50', 'P95', 'P99', 'REQUESTS'];

function figures(f: SignalFigures): string[] {
  const ms = (x: number) => (Number.isNaN(x) ? '-' : `${x < 10 ? x.toFixed(1) : Math.round(x)}ms`);
  return [
    f.rps.toFixed(1),
    f.requests === 0 ? '-' : `${(f.successRate * 100).toFixed(2)}%`,
    ms(f.p50),
    ms(f.p95),
    ms(f.p99),
    String(Math.round(f.requests)),
  ];
}

function printReport(out: (line?: string) => void, r: FleetSignalsReport, only: readonly string[]): void {
  const wanted = (s: string) => only.length === 0 || only.includes(s);
  out(`window ${r.windowMs} ms, ending ${new Date(r.at).toISOString()}`);
  const subsets = r.subsets.filter((s) => wanted(s.service));
  out();
  out("CALLS BY SUBSET (callers' view)");
  for (const l of formatTable(
    ['SERVICE', 'SUBSET', ...FIGURES],
    subsets.map((s) => [s.service, s.subset, ...figures(s)]),
  ))
    out(l);
  out();
  out('EDGES');
  for (const l of formatTable(
    ['CALLER', 'SERVICE', 'SUBSET', ...FIGURES],
    r.edges.map((e) => [e.caller, e.service, e.subset, ...figures(e)]),
  ))
    out(l);
  out();
  out("SERVED BY VERSION (instances' view)");
  for (const l of formatTable(
    ['SERVICE', 'VERSION', ...FIGURES],
    r.services.filter((s) => wanted(s.service)).map((s) => [s.service, s.version || '-', ...figures(s)]),
  ))
    out(l);
  const failed = r.instances.filter((i) => !i.ok);
  if (failed.length > 0) {
    out();
    out(`${failed.length} of ${r.instances.length} instances did not answer:`);
    for (const l of formatTable(
      ['SERVICE', 'INSTANCE', 'ERROR'],
      failed.map((i) => [i.service, i.id, i.error ?? '']),
    ))
      out(l);
  }
}
