import type { RuleKeyStatus, RuleStoreStatus } from '@meshless/core';

// The "meshless governance" TTL check on each instance's registration is the contract between
// instances and `meshless status`: people read the first lines in the Consul UI, the CLI reads
// the last line (`meshless-status: {json}`).

/** Name of the TTL check every instance keeps on its registration. */
export const GOVERNANCE_CHECK_NAME = 'meshless governance';

/** CheckID of an instance's governance check: `meshless-governance:<serviceId>`. */
export function governanceCheckId(serviceId: string): string {
  return `meshless-governance:${serviceId}`;
}

/** Consul's default `check_output_max_size`: longer outputs are cut, so the JSON must fit in it. */
export const GOVERNANCE_OUTPUT_MAX_BYTES = 4096;

const STATUS_PREFIX = 'meshless-status: ';
/** Longest human-readable line; rejection messages can be long (zod issue lists). */
const MAX_LINE_BYTES = 300;
/** Rejection messages are cut to this in the JSON only when the JSON does not fit otherwise. */
const SHORT_MESSAGE_CHARS = 120;

export interface GovernanceRejection {
  /** ModifyIndex of the rejected value. */
  readonly index: number;
  /** Field path inside the document ('' for whole-document errors). */
  readonly path: string;
  readonly message: string;
}

export interface GovernanceKeyReport {
  /** ModifyIndex of the document in force, or null (defaults apply). */
  readonly applied: number | null;
  /** Set while the value in KV is rejected on this instance. */
  readonly rejected: GovernanceRejection | null;
}

/** The machine-readable part of the check output (`meshless-status: {json}`). */
export interface GovernanceReport {
  readonly v: 1;
  /** Index of the last rule snapshot the instance processed. */
  readonly index: number;
  /** By full key (prefix included). */
  readonly keys: Readonly<Record<string, GovernanceKeyReport>>;
  /** True when keys were left out to fit the output limit (keys with nothing rejected go first). */
  readonly truncated?: boolean;
  /**
   * What the instance uses, so a reader can tell a key it does not apply (not reported: not its
   * business) from one it has not caught up with: the services it calls and its governed resources.
   */
  readonly uses?: GovernanceUses;
  /** Set while the rules are held (the prefix read as empty in one step). */
  readonly held?: string;
}

export interface GovernanceUses {
  readonly calls: readonly string[];
  readonly resources: readonly string[];
}

/**
 * Whether a rule key (relative to the prefix) affects an instance of `service` that uses these:
 * `defaults/policies`; its own `services/<service>/inbound`; the `routes`, `balancer` and
 * `policies` of the services it calls; `resources/<name>` of the resources it governs. Pure; the
 * instances and `meshless status` decide alike.
 */
export function keyAffects(relativeKey: string, service: string | undefined, uses: GovernanceUses): boolean {
  if (relativeKey === 'defaults/policies') return true;
  const parts = relativeKey.split('/');
  if (parts.length === 3 && parts[0] === 'services') {
    if (parts[2] === 'inbound') return parts[1] === service;
    return uses.calls.includes(parts[1]!);
  }
  if (parts.length === 2 && parts[0] === 'resources') return uses.resources.includes(parts[1]!);
  return false;
}

export interface GovernanceReportExtras {
  /** Byte limit for the whole output. Default 4096 (Consul's default check output limit). */
  readonly maxBytes?: number;
  /** Extra human-readable lines after the summary (e.g. `version v2, zone eu-1a`). Dropped first. */
  readonly notes?: readonly string[];
  /** Only keys that affect the instance are reported. Default: every key. */
  readonly relevant?: (key: string) => boolean;
  /** Written into the report (see {@link GovernanceReport.uses}). */
  readonly uses?: GovernanceUses;
  /** Check status while a key is rejected or the rules are held. Default `passing`: the instance is healthy and runs its last good rules. */
  readonly rejectionStatus?: 'passing' | 'warning';
  /** Why the rules are held, for the first line. */
  readonly held?: string;
}

export interface GovernanceCheckUpdate {
  /** `passing`; `rejectionStatus` (opt-in `warning`) while a key is rejected or the rules are held. */
  readonly status: 'passing' | 'warning';
  readonly output: string;
}

/** Builds the governance check's status and output from a RuleStore status. Pure. */
export function formatGovernanceReport(
  storeStatus: RuleStoreStatus,
  extras: GovernanceReportExtras = {},
): GovernanceCheckUpdate {
  const maxBytes = extras.maxBytes ?? GOVERNANCE_OUTPUT_MAX_BYTES;
  const relevant = extras.relevant;
  const status = relevant
    ? { ...storeStatus, keys: storeStatus.keys.filter((k) => relevant(k.key)) }
    : storeStatus;
  // The last good document (if any) stays in force for a rejected key; `applied` in the JSON says which.
  const rejected = status.keys.filter((k) => k.state === 'rejected');
  const appliedCount = status.keys.length - rejected.length;

  const jsonLine = fitJson(status, maxBytes, extras);
  // What remains for the human lines, each followed by a newline before the JSON.
  let budget = maxBytes - byteLength(jsonLine);
  const lines: string[] = [];
  const take = (line: string): boolean => {
    const clipped = clip(line, MAX_LINE_BYTES);
    const cost = byteLength(clipped) + 1;
    if (cost > budget) return false;
    lines.push(clipped);
    budget -= cost;
    return true;
  };

  const summary =
    status.keys.length === 0
      ? 'meshless governance: no rules for this instance in KV (built-in defaults apply)'
      : rejected.length === 0
        ? `meshless governance: ${plural(appliedCount, 'rule')} in force`
        : `meshless governance: ${plural(rejected.length, 'document')} REJECTED (the last good version stays in force), ${plural(appliedCount, 'other rule')} in force`;
  const origin = status.origin === 'cache' ? ' (from the on-disk cache: Consul unreachable)' : '';
  if (extras.held) take(`RULES HELD: ${extras.held}`);
  if (take(summary + origin)) {
    for (let i = 0; i < rejected.length; i++) {
      const more = rejected.length - i - 1;
      // Keep room for the "... more" line so a cut list says so.
      const reserve = more > 0 ? byteLength(moreLine(more)) + 1 : 0;
      budget -= reserve;
      const ok = take(rejectedLine(rejected[i]!));
      budget += reserve;
      if (!ok) {
        take(moreLine(rejected.length - i));
        break;
      }
    }
    for (const note of extras.notes ?? []) if (!take(note)) break;
  }
  lines.push(jsonLine);
  const bad = rejected.length > 0 || extras.held !== undefined;
  return { status: bad ? (extras.rejectionStatus ?? 'passing') : 'passing', output: lines.join('\n') };
}

/** Reads the report out of a governance check's output. Garbage, or another version: undefined. */
export function parseGovernanceReport(output: string): GovernanceReport | undefined {
  if (typeof output !== 'string') return undefined;
  const lines = output.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith(STATUS_PREFIX.trim())) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line.slice(STATUS_PREFIX.trim().length));
    } catch {
      return undefined;
    }
    return readReport(raw);
  }
  return undefined;
}

function readReport(raw: unknown): GovernanceReport | undefined {
  if (!isObject(raw) || raw.v !== 1 || !isIndex(raw.index) || !isObject(raw.keys)) return undefined;
  const keys: Record<string, GovernanceKeyReport> = {};
  for (const [key, value] of Object.entries(raw.keys)) {
    if (key === '__proto__' || !isObject(value)) continue;
    const applied = value.applied === null || value.applied === undefined ? null : value.applied;
    if (applied !== null && !isIndex(applied)) continue;
    let rejected: GovernanceRejection | null = null;
    const r = value.rejected;
    if (isObject(r)) {
      if (!isIndex(r.index)) continue;
      rejected = {
        index: r.index,
        path: typeof r.path === 'string' ? r.path : '',
        message: typeof r.message === 'string' ? r.message : '',
      };
    } else if (r !== null && r !== undefined) continue;
    keys[key] = { applied, rejected };
  }
  const uses = readUses(raw.uses);
  return {
    v: 1,
    index: raw.index,
    keys,
    ...(raw.truncated === true ? { truncated: true } : {}),
    ...(uses ? { uses } : {}),
    ...(typeof raw.held === 'string' ? { held: raw.held } : {}),
  };
}

function readUses(raw: unknown): GovernanceUses | undefined {
  if (!isObject(raw)) return undefined;
  const names = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : []);
  return { calls: names(raw.calls), resources: names(raw.resources) };
}

/** The JSON line, shrunk until it fits: drop keys with nothing rejected, shorten messages, drop the rest. */
function fitJson(status: RuleStoreStatus, maxBytes: number, extras: GovernanceReportExtras): string {
  const all = status.keys.map((k) => [k.key, keyReport(k)] as const);
  const line = (entries: readonly (readonly [string, GovernanceKeyReport])[], truncated: boolean) =>
    STATUS_PREFIX +
    JSON.stringify({
      v: 1,
      index: status.index,
      keys: Object.fromEntries(entries),
      ...(truncated ? { truncated: true } : {}),
      ...(extras.uses ? { uses: extras.uses } : {}),
      ...(extras.held ? { held: clipChars(extras.held) } : {}),
    } satisfies GovernanceReport);

  let out = line(all, false);
  if (byteLength(out) <= maxBytes) return out;
  let kept = all.filter(([, r]) => r.rejected !== null);
  out = line(kept, true);
  if (byteLength(out) <= maxBytes) return out;
  kept = kept.map(([key, r]) => [
    key,
    { applied: r.applied, rejected: { ...r.rejected!, message: clipChars(r.rejected!.message) } },
  ]);
  out = line(kept, true);
  while (byteLength(out) > maxBytes && kept.length > 0) {
    kept = kept.slice(0, -1);
    out = line(kept, true);
  }
  return out;
}

function keyReport(k: RuleKeyStatus): GovernanceKeyReport {
  return {
    applied: k.appliedIndex ?? null,
    rejected:
      k.state === 'rejected' && k.rejection
        ? { index: k.rejection.index, path: k.rejection.path, message: k.rejection.message }
        : null,
  };
}

function rejectedLine(k: RuleKeyStatus): string {
  const r = k.rejection;
  if (!r) return `REJECTED ${k.key}`;
  // Validation messages already start with their path; parse errors have none.
  const message = r.path && !r.message.startsWith(`${r.path}:`) ? `${r.path}: ${r.message}` : r.message;
  const kept =
    k.appliedIndex === undefined ? 'the defaults apply' : `version ${k.appliedIndex} stays in force`;
  return `REJECTED ${k.key} version ${r.index}: ${message} (${kept})`;
}

function moreLine(n: number): string {
  return `... ${n} more rejected (meshless status shows them all)`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Cuts a line to `max` UTF-8 bytes, on a code point boundary, marking the cut. */
function clip(s: string, max: number): string {
  if (byteLength(s) <= max) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = byteLength(ch);
    if (bytes + n > max - 3) break;
    out += ch;
    bytes += n;
  }
  return `${out}...`;
}

function clipChars(s: string): string {
  const chars = [...s];
  return chars.length <= SHORT_MESSAGE_CHARS ? s : `${chars.slice(0, SHORT_MESSAGE_CHARS - 3).join('')}...`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
