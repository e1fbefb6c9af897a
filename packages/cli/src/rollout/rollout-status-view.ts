// The "rollout" part of `meshless status <service>`: where the canary stands and why (the last
// decisions with their figures). Everything shown comes from a KV key anyone with write access
// can craft: readState has checked the types; text is made printable here.

import { formatTable, formatTime } from '../table.ts';
import type { ServiceRollout } from './read-rollout-state.ts';
import type { DecisionRecord, RolloutState } from './rollout-state.ts';

/** Decisions the text shows (the state keeps 20; `--json` has them all). */
export const SHOWN_DECISIONS = 5;

/** `rollout` in `meshless status --json`: the state as stored, or why it is unreadable. */
export type RolloutStatusJson = ServiceRollout & {
  /** While paused: the command that continues it (the operator decides; nothing resumes on its own). */
  readonly resume?: string;
};

export function rolloutStatusJson(
  service: string,
  prefix: string,
  rollout: ServiceRollout,
): RolloutStatusJson {
  if (rollout.state?.status !== 'paused') return rollout;
  return { ...rollout, resume: resumeCommand(service, prefix, rollout.state) };
}

/** The lines of the section, without a leading blank line. */
export function formatRolloutStatus(service: string, prefix: string, rollout: ServiceRollout): string[] {
  const s = rollout.state;
  if (!s) return [`rollout state unreadable: ${printable(rollout.error)} (${printable(rollout.key)})`];
  const canary = printable(s.canary);
  // Paused, the routes may hold another weight (an edit paused it); the reason says which.
  const where =
    `rollout ${canary} vs ${printable(s.stable)}: ${s.status} at step ${s.step + 1}/${s.plan.length} ` +
    `(plan ${s.plan.join(',')}%), ${canary} at ${s.weight}%${s.status === 'paused' ? ' as last written' : ''}`;
  const lines = [s.status === 'paused' || !s.reason ? where : `${where}; ${printable(s.reason)}`];
  lines.push(
    `started ${formatTime(s.startedAt)}, updated ${formatTime(s.updatedAt)}, controller ${printable(s.controller) || '-'}`,
  );
  if (s.status === 'paused') {
    lines.push(
      `PAUSED: ${printable(s.reason) || 'no reason recorded'} — run \`${printable(resumeCommand(service, prefix, s))}\``,
    );
  }
  const shown = s.decisions.slice(-SHOWN_DECISIONS);
  if (shown.length === 0) {
    lines.push('no decision yet');
    return lines;
  }
  const of = s.decisions.length > shown.length ? ` of ${s.decisions.length}` : '';
  lines.push(`last ${shown.length}${of} decision${shown.length === 1 ? '' : 's'}:`);
  const rows = shown.map((d) => [
    formatTime(d.at),
    `${d.step + 1}/${s.plan.length}`,
    `${d.weight}%`,
    printable(d.decision),
    figures(d.canary),
    figures(d.stable),
    printable(d.reason),
  ]);
  lines.push(...formatTable(['TIME', 'STEP', 'WEIGHT', 'DECISION', 'CANARY', 'STABLE', 'REASON'], rows));
  return lines;
}

/** `2000 req 0.11% err p95 9.5ms p99 12ms`, or `-` when the decision had none (a pause). */
function figures(f: DecisionRecord['canary']): string {
  if (!f) return '-';
  // Read as untrusted: readState allows null for any figure (JSON has no undefined or NaN).
  const n = (x: number | null | undefined) => (typeof x === 'number' ? x : undefined);
  const requests = n(f.requests);
  const errorPercent = n(f.errorPercent);
  const out = [
    `${requests ?? '-'} req`,
    `${errorPercent === undefined ? '-' : `${Number(errorPercent.toFixed(2))}%`} err`,
  ];
  const p95 = n(f.p95Ms);
  const p99 = n(f.p99Ms);
  if (p95 !== undefined) out.push(`p95 ${ms(p95)}`);
  if (p99 !== undefined) out.push(`p99 ${ms(p99)}`);
  return out.join(' ');
}

function ms(x: number): string {
  return `${Number(x.toFixed(1))}ms`;
}

/**
 * `meshless rollout <service> --canary <c> --stable <s> --resume`: the names come from KV, so
 * anything but a plain name is single-quoted for a shell (an operator pastes this line).
 */
export function resumeCommand(service: string, prefix: string, s: RolloutState): string {
  const words = ['meshless', 'rollout', service, '--canary', s.canary, '--stable', s.stable, '--resume'];
  if (prefix !== 'meshless') words.push('--prefix', prefix);
  return words.map(shellWord).join(' ');
}

function shellWord(w: string): string {
  return /^[A-Za-z0-9._/:@%+=,-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/** Control characters (a terminal's escape sequences) and bidi overrides shown as `?`. */
function printable(s: string): string {
  return s.replace(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu, '?');
}
