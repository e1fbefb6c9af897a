import { describe, expect, it } from 'vitest';
import { parseDuration } from '../commands/rollout.ts';
import { checkPlan, parseState } from './rollout-state.ts';
import { sampleState } from './state-fixture.ts';

const state = sampleState({ plan: [1, 5, 100], step: 1, weight: 5, routesIndex: 42 });

describe('rollout state', () => {
  it('reads a stored state and refuses anything else (the key is untrusted)', () => {
    expect(parseState(Buffer.from(JSON.stringify(state)))?.step).toBe(1);
    for (const bad of [
      '',
      'not json',
      '[]',
      JSON.stringify({ ...state, version: 2 }),
      JSON.stringify({ ...state, step: 3 }),
      JSON.stringify({ ...state, plan: [1, 500] }),
      JSON.stringify({ ...state, status: 'done' }),
      JSON.stringify({ ...state, weight: -1 }),
    ]) {
      expect(parseState(Buffer.from(bad)), bad).toBeUndefined();
    }
  });

  it('plans: whole percents, increasing, ending at 100', () => {
    expect(() => checkPlan([1, 5, 25, 50, 100])).not.toThrow();
    expect(() => checkPlan([100])).not.toThrow();
    expect(() => checkPlan([])).toThrow(/no step/);
    expect(() => checkPlan([5, 5, 100])).toThrow(/step 2: 5 does not increase/);
    expect(() => checkPlan([0, 100])).toThrow(/step 1/);
    expect(() => checkPlan([10, 50])).toThrow(/last step must be 100/);
    expect(() => checkPlan([1.5, 100])).toThrow(/whole percent/);
  });

  it('durations', () => {
    expect(parseDuration('interval', '5s')).toBe(5000);
    expect(parseDuration('interval', '250ms')).toBe(250);
    expect(parseDuration('interval', '2m')).toBe(120_000);
    expect(parseDuration('interval', '1500')).toBe(1500);
    expect(() => parseDuration('interval', '5 hours')).toThrow(/--interval: expected a duration/);
  });
});
