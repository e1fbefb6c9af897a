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
  if (!raw || raw.byteLength === 0 || raw.byteLength > 256 * 1024) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Record<string, unknown>;
  const isInt = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  if (
    s.version !== 1 ||
    typeof s.service !== 'string' ||
    typeof s.canary !== 'string' ||
    typeof s.stable !== 'string' ||
    !Array.isArray(s.plan) ||
    !s.plan.every((w) => isInt(w) && w <= 100) ||
    !isInt(s.step) ||
    (s.step as number) >= s.plan.length ||
    !isInt(s.weight) ||
    !isInt(s.routesIndex) ||
    !['running', 'paused', 'promoted', 'rolled-back'].includes(s.status as string)
  ) {
    return undefined;
  }
  return {
    ...(s as unknown as RolloutState),
    reason: typeof s.reason === 'string' ? s.reason : '',
    decisions: Array.isArray(s.decisions) ? (s.decisions as DecisionRecord[]).slice(-KEEP_DECISIONS) : [],
  };
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
