// The fleet view as text: `meshless top`'s frame. Pure: the same view gives the same lines.

import { formatTable } from '../table.ts';
import type { FleetView, ServiceVersionRow, ViewFigures } from './model.ts';

export interface RenderOptions {
  /** Terminal width: longer lines are cut (default: none). */
  readonly columns?: number;
  /** Terminal height: the frame is cut to it, with a line saying how many were left out (default: none). */
  readonly rows?: number;
  /** A refresh that failed: shown under the header, the last good view stays. */
  readonly error?: string;
}

/** At most this many instances that did not answer are listed by name. */
const MAX_UNANSWERED = 5;

function ms(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return `${x < 10 ? x.toFixed(1) : Math.round(x)}ms`;
}

function percent(f: ViewFigures): string {
  return f.requests === 0 ? '-' : `${(f.successRate * 100).toFixed(2)}%`;
}

function seconds(windowMs: number): string {
  return windowMs % 1000 === 0 ? `${windowMs / 1000}s` : `${windowMs}ms`;
}

/** `SYNCED 2`, `SYNCED 1 STALE 1`, `-` for no rule keys. */
export function ruleCell(r: ServiceVersionRow['rules']): string {
  const parts = (['SYNCED', 'STALE', 'REJECTED'] as const).filter((s) => r[s] > 0).map((s) => `${s} ${r[s]}`);
  return parts.length === 0 ? '-' : parts.join(' ');
}

export function renderFrame(view: FleetView, options: RenderOptions = {}): string[] {
  const at = new Date(view.at).toISOString().slice(11, 19);
  const instances = view.rows.reduce((n, r) => n + r.instances, 0);
  const lines: string[] = [
    `meshless top  ${at}Z  window ${seconds(view.windowMs)}  ${view.rows.length} rows  ${instances} instances` +
      (view.unanswered.length > 0 ? `  ${view.unanswered.length} not answering` : ''),
  ];
  if (options.error !== undefined) lines.push(`refresh failed: ${options.error}`);
  lines.push('');
  if (view.rows.length === 0)
    lines.push('no instances serve signals (is metrics on? is the service registered?)');
  else {
    lines.push(
      ...formatTable(
        ['SERVICE', 'VERSION', 'UP', 'RPS', 'SUCCESS', 'P50', 'P95', 'P99', 'RULES', 'EJECTED', 'OPEN CB'],
        view.rows.map((r) => [
          r.service,
          r.version || '-',
          `${r.answered}/${r.instances}`,
          r.rps.toFixed(1),
          percent(r),
          ms(r.p50),
          ms(r.p95),
          ms(r.p99),
          ruleCell(r.rules),
          String(r.ejected),
          String(r.openBreakers),
        ]),
      ),
    );
  }
  if (view.edges.length > 0) {
    lines.push('');
    lines.push(
      ...formatTable(
        ['CALLER', 'SERVICE', 'SUBSET', 'RPS', 'ERRORS', 'P99'],
        view.edges.map((e) => [
          e.caller,
          e.service,
          e.subset,
          e.rps.toFixed(1),
          e.requests === 0 ? '-' : `${(e.errorShare * 100).toFixed(2)}%`,
          ms(e.p99),
        ]),
      ),
    );
  }
  if (view.rollouts.length > 0) {
    lines.push('');
    lines.push(
      ...formatTable(
        ['ROLLOUT', 'CANARY', 'WEIGHT', 'STEP', 'STATUS', 'LAST DECISION'],
        view.rollouts.map((r) => [
          r.service,
          `${r.canary} vs ${r.stable}`,
          `${r.weight}%`,
          `${r.step}/${r.steps}`,
          r.status,
          r.last ? `${r.last.decision}: ${r.last.reason}` : '-',
        ]),
      ),
    );
  }
  if (view.unanswered.length > 0) {
    lines.push('');
    for (const u of view.unanswered.slice(0, MAX_UNANSWERED)) {
      lines.push(`not answering: ${u.service} ${u.id}${u.error ? `: ${u.error}` : ''}`);
    }
    if (view.unanswered.length > MAX_UNANSWERED) {
      lines.push(`... and ${view.unanswered.length - MAX_UNANSWERED} more`);
    }
  }
  return fit(lines, options);
}

function fit(lines: string[], o: RenderOptions): string[] {
  let out = lines;
  if (o.rows !== undefined && o.rows > 1 && out.length > o.rows) {
    const keep = o.rows - 1;
    out = [
      ...out.slice(0, keep),
      `... ${out.length - keep} more lines (a larger terminal, or name services)`,
    ];
  }
  const cols = o.columns;
  if (cols !== undefined && cols > 0) out = out.map((l) => (l.length > cols ? l.slice(0, cols) : l));
  return out;
}
