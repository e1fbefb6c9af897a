import type { Verdict } from './judge.ts';

export type RolloutStatus = 'running' | 'paused' | 'promoted' | 'rolled-back';

/** One decision as kept in the state key (the newest few). */
export interface DecisionRecord {
  /** Epoch ms. */
  readonly at: number;
  readonly step: number;
  readonly weight: number;
  readonly decision: Verdict['decision'] | 'pause';
  readonly reason: string;
  readonly canary?: Verdict['canary'];
  readonly stable?: Verdict['stable'];
  readonly errorPValue?: number;
}

/** `<prefix>/_rollout/<service>`: what a restarted controller resumes from. */
export interface RolloutState {
  readonly version: 1;
  readonly service: string;
  readonly canary: string;
  readonly stable: string;
  readonly plan: readonly number[];
  /** Index into `plan` of the step in progress. */
  step: number;
  /** The canary weight this controller last wrote (or found when it started). */
  weight: number;
  /** ModifyIndex of the routes document as this controller last wrote or accepted it. */
  routesIndex: number;
  status: RolloutStatus;
  /** Why it paused or ended. */
  reason: string;
  /** Epoch ms. */
  readonly startedAt: number;
  updatedAt: number;
  /** The session holding the lock when this was written. */
  controller: string;
  decisions: DecisionRecord[];
}

export const KEEP_DECISIONS = 20;

export function stateKey(prefix: string, service: string): string {
  return `${prefix}/_rollout/${service}`;
}

/** Reads a stored state; undefined for anything that is not one (the key is untrusted). */
export function parseState(raw: Buffer | undefined): RolloutState | undefined {
  return readState(raw).state;
}

const MAX_STATE_BYTES = 256 * 1024;
const STATUSES: readonly string[] = ['running', 'paused', 'promoted', 'rolled-back'];

/**
 * Reads a stored state, or says why it is not one (the first field that is wrong, by path), for
 * `meshless status`. Fields the views print (times, decisions) are checked too: a crafted key
 * must not make them throw.
 */
export function readState(
  raw: Buffer | undefined,
):
  | { readonly state: RolloutState; readonly error?: undefined }
  | { readonly error: string; readonly state?: undefined } {
  if (!raw || raw.byteLength === 0) return { error: 'empty' };
  if (raw.byteLength > MAX_STATE_BYTES) return { error: `${raw.byteLength} bytes, more than 256 KiB` };
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch {
    return { error: 'not JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'not a JSON object' };
  const s = v as Record<string, unknown>;
  const isInt = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  const isTime = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x < 1e15;
  const wrong = (path: string, want: string) => ({ error: `${path}: expected ${want}` });
  if (s.version !== 1) return wrong('version', '1');
  for (const f of ['service', 'canary', 'stable'] as const)
    if (typeof s[f] !== 'string') return wrong(f, 'a string');
  if (!Array.isArray(s.plan) || !s.plan.every((w) => isInt(w) && w <= 100))
    return wrong('plan', 'an array of whole percents');
  if (!isInt(s.step) || (s.step as number) >= s.plan.length)
    return wrong('step', `a step index below ${s.plan.length}`);
  if (!isInt(s.weight)) return wrong('weight', 'a whole percent');
  if (!isInt(s.routesIndex)) return wrong('routesIndex', 'an index');
  if (!STATUSES.includes(s.status as string)) return wrong('status', STATUSES.join(', '));
  if (!isTime(s.startedAt)) return wrong('startedAt', 'epoch ms');
  if (!isTime(s.updatedAt)) return wrong('updatedAt', 'epoch ms');
  if (typeof s.controller !== 'string') return wrong('controller', 'a string');
  if (s.decisions !== undefined && !Array.isArray(s.decisions)) return wrong('decisions', 'an array');
  const all = (s.decisions as unknown[] | undefined) ?? [];
  const decisions = all.slice(-KEEP_DECISIONS);
  for (const [i, d] of decisions.entries()) {
    const error = decisionError(d);
    if (error) return { error: `decisions[${all.length - decisions.length + i}]${error}` };
  }
  return {
    state: {
      ...(s as unknown as RolloutState),
      reason: typeof s.reason === 'string' ? s.reason : '',
      decisions: decisions as DecisionRecord[],
    },
  };
}

const FIGURES = ['requests', 'errors', 'errorPercent', 'p50Ms', 'p95Ms', 'p99Ms', 'latencyCount'];

/** What is wrong with one stored decision (`.field: expected ...`), or undefined. */
function decisionError(d: unknown): string | undefined {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return ': expected an object';
  const r = d as Record<string, unknown>;
  const isNum = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (!isNum(r.at) || (r.at as number) >= 1e15) return '.at: expected epoch ms';
  if (!Number.isSafeInteger(r.step) || (r.step as number) < 0) return '.step: expected a step index';
  if (!isNum(r.weight)) return '.weight: expected a percent';
  if (typeof r.decision !== 'string') return '.decision: expected a string';
  if (typeof r.reason !== 'string') return '.reason: expected a string';
  // The figures the views print are numbers; a quantile without samples is absent (or null).
  // Fields not printed are left unchecked (a newer controller may add some).
  for (const side of ['canary', 'stable'] as const) {
    const f = r[side];
    if (f === undefined) continue;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) return `.${side}: expected figures`;
    const figures = f as Record<string, unknown>;
    for (const k of FIGURES) {
      const x = figures[k];
      if (x !== undefined && x !== null && !isNum(x)) return `.${side}.${k}: expected a number`;
    }
  }
  if (r.errorPValue !== undefined && r.errorPValue !== null && !isNum(r.errorPValue))
    return '.errorPValue: expected a number';
  return undefined;
}

/** Plan steps: whole percents, strictly increasing, ending at 100. Throws with the reason. */
export function checkPlan(plan: readonly number[]): void {
  if (plan.length === 0) throw new RangeError('the plan has no step');
  plan.forEach((w, i) => {
    if (!Number.isInteger(w) || w < 1 || w > 100)
      throw new RangeError(`step ${i + 1}: ${w} is not a whole percent 1-100`);
    if (i > 0 && w <= plan[i - 1]!)
      throw new RangeError(`step ${i + 1}: ${w} does not increase (after ${plan[i - 1]})`);
  });
  if (plan[plan.length - 1] !== 100) throw new RangeError('the last step must be 100');
}
