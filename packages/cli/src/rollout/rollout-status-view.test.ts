import { describe, expect, it } from 'vitest';
import { type RolloutState, readState } from './rollout-state.ts';
import { formatRolloutStatus, resumeCommand, rolloutStatusJson } from './rollout-status-view.ts';

const T0 = Date.UTC(2026, 11, 3, 20, 10, 0);
const figures = (requests: number, errors: number, p95Ms?: number, p99Ms?: number) => ({
  requests,
  errors,
  errorPercent: requests === 0 ? 0 : (100 * errors) / requests,
  p50Ms: 9,
  p95Ms,
  p99Ms,
  latencyCount: requests,
});

function state(over: Partial<RolloutState> = {}): RolloutState {
  return {
    version: 1,
    service: 'catalog',
    canary: 'v2',
    stable: 'v1',
    plan: [10, 50, 100],
    step: 0,
    weight: 0,
    routesIndex: 42,
    status: 'rolled-back',
    reason: 'canary errors 5% vs stable 0.11%',
    startedAt: T0,
    updatedAt: T0 + 5_000,
    controller: 'a1b2c3',
    decisions: [
      {
        at: T0 + 2_000,
        step: 0,
        weight: 10,
        decision: 'hold',
        reason: 'too few requests',
        canary: figures(20, 0),
        stable: figures(180, 0, 9.5),
        errorPValue: 1,
      },
      {
        at: T0 + 4_000,
        step: 0,
        weight: 10,
        decision: 'rollback',
        reason: 'canary errors 5% vs stable 0.11%',
        canary: figures(200, 10, 10, 12.25),
        stable: figures(18000, 20, 9.5, 12),
        errorPValue: 0.0001,
      },
    ],
    ...over,
  };
}

const key = 'meshless/_rollout/catalog';

describe('the rollout section of meshless status', () => {
  it('a rolled-back rollout: where it stands, why, and the decisions with their figures', () => {
    expect(formatRolloutStatus('catalog', 'meshless', { key, state: state() })).toEqual([
      'rollout v2 vs v1: rolled-back at step 1/3 (plan 10,50,100%), v2 at 0%; canary errors 5% vs stable 0.11%',
      'started 2026-12-03 20:10:00Z, updated 2026-12-03 20:10:05Z, controller a1b2c3',
      'last 2 decisions:',
      'TIME                  STEP  WEIGHT  DECISION  CANARY                              STABLE                                  REASON',
      '2026-12-03 20:10:02Z  1/3   10%     hold      20 req 0% err                       180 req 0% err p95 9.5ms                too few requests',
      '2026-12-03 20:10:04Z  1/3   10%     rollback  200 req 5% err p95 10ms p99 12.3ms  18000 req 0.11% err p95 9.5ms p99 12ms  canary errors 5% vs stable 0.11%',
    ]);
  });

  it('a paused rollout says so and how to go on; the pause itself has no figures', () => {
    const paused = state({
      status: 'paused',
      step: 1,
      weight: 50,
      reason: 'edited by someone else: v2 at 30%, this controller wrote 50%',
      decisions: [
        {
          at: T0 + 9_000,
          step: 1,
          weight: 50,
          decision: 'pause',
          reason: 'edited by someone else: v2 at 30%, this controller wrote 50%',
        },
      ],
    });
    expect(formatRolloutStatus('catalog', 'meshless', { key, state: paused })).toEqual([
      'rollout v2 vs v1: paused at step 2/3 (plan 10,50,100%), v2 at 50% as last written',
      'started 2026-12-03 20:10:00Z, updated 2026-12-03 20:10:05Z, controller a1b2c3',
      'PAUSED: edited by someone else: v2 at 30%, this controller wrote 50% — run `meshless rollout catalog --canary v2 --stable v1 --resume`',
      'last 1 decision:',
      'TIME                  STEP  WEIGHT  DECISION  CANARY  STABLE  REASON',
      '2026-12-03 20:10:09Z  2/3   50%     pause     -       -       edited by someone else: v2 at 30%, this controller wrote 50%',
    ]);
    expect(rolloutStatusJson('catalog', 'm', { key, state: paused }).resume).toBe(
      'meshless rollout catalog --canary v2 --stable v1 --resume --prefix m',
    );
    expect(rolloutStatusJson('catalog', 'm', { key, state: state() }).resume).toBeUndefined();
  });

  it('shows the newest few decisions of many, and a running rollout without any yet', () => {
    const many = state({
      status: 'running',
      reason: 'started',
      decisions: Array.from({ length: 8 }, (_, i) => ({
        at: T0 + i * 1000,
        step: 0,
        weight: 10,
        decision: 'hold' as const,
        reason: `hold ${i}`,
      })),
    });
    const lines = formatRolloutStatus('catalog', 'meshless', { key, state: many });
    expect(lines[0]).toBe('rollout v2 vs v1: running at step 1/3 (plan 10,50,100%), v2 at 0%; started');
    expect(lines[2]).toBe('last 5 of 8 decisions:');
    expect(lines.slice(4).map((l) => l.split(/ {2,}/).at(-1))).toEqual([
      'hold 3',
      'hold 4',
      'hold 5',
      'hold 6',
      'hold 7',
    ]);
    expect(formatRolloutStatus('catalog', 'meshless', { key, state: state({ decisions: [] }) }).at(-1)).toBe(
      'no decision yet',
    );
  });

  it('an unreadable state is one line with the reason and the key', () => {
    expect(formatRolloutStatus('catalog', 'meshless', { key, error: 'status: expected running' })).toEqual([
      'rollout state unreadable: status: expected running (meshless/_rollout/catalog)',
    ]);
  });

  it('text from KV cannot drive the terminal, and a name pasted into a shell stays one word', () => {
    const hostile = state({
      status: 'paused',
      canary: "v2'; rm -rf ~ #",
      reason: 'ok\u001b[2J\u001b]0;pwned\u0007 \u202eevil',
    });
    const lines = formatRolloutStatus('catalog', 'meshless', { key, state: hostile });
    for (const line of lines) expect(line).not.toMatch(/[\p{Cc}\u202e]/u);
    expect(lines[2]).toBe(
      "PAUSED: ok?[2J?]0;pwned? ?evil — run `meshless rollout catalog --canary 'v2'\\''; rm -rf ~ #' --stable v1 --resume`",
    );
    expect(resumeCommand('catalog', 'meshless', hostile)).toBe(
      "meshless rollout catalog --canary 'v2'\\''; rm -rf ~ #' --stable v1 --resume",
    );
  });
});

describe('readState: why a stored state is unreadable', () => {
  const good = () => JSON.parse(JSON.stringify(state()));
  const why = (doc: unknown) =>
    readState(Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc))).error;

  it('accepts what the controller writes, figures without samples included (JSON has no undefined)', () => {
    expect(why(good())).toBeUndefined();
    const doc = good();
    doc.decisions[0].canary.p95Ms = null;
    doc.decisions[0].errorPValue = null;
    doc.decisions[0].canary.somethingNew = 'a newer controller may add fields';
    expect(why(doc)).toBeUndefined();
  });

  it('names the first wrong field, so a crafted key never reaches the formatting', () => {
    const cases: [unknown, string][] = [
      ['', 'empty'],
      ['{', 'not JSON'],
      ['[]', 'not a JSON object'],
      [{ ...good(), version: 2 }, 'version: expected 1'],
      [{ ...good(), canary: 7 }, 'canary: expected a string'],
      [{ ...good(), step: 3 }, 'step: expected a step index below 3'],
      [{ ...good(), status: 'done' }, 'status: expected running, paused, promoted, rolled-back'],
      [{ ...good(), startedAt: 1e300 }, 'startedAt: expected epoch ms'],
      [{ ...good(), updatedAt: 'soon' }, 'updatedAt: expected epoch ms'],
      [{ ...good(), decisions: {} }, 'decisions: expected an array'],
      [{ ...good(), decisions: [null] }, 'decisions[0]: expected an object'],
      [{ ...good(), decisions: [{ ...good().decisions[0], at: -1 }] }, 'decisions[0].at: expected epoch ms'],
      [
        { ...good(), decisions: [{ ...good().decisions[0], reason: {} }] },
        'decisions[0].reason: expected a string',
      ],
      [
        { ...good(), decisions: [good().decisions[0], { ...good().decisions[1], canary: 'x' }] },
        'decisions[1].canary: expected figures',
      ],
      [
        { ...good(), decisions: [{ ...good().decisions[0], stable: { requests: '5' } }] },
        'decisions[0].stable.requests: expected a number',
      ],
    ];
    for (const [doc, error] of cases) expect(why(doc), JSON.stringify(doc)).toBe(error);
  });
});
