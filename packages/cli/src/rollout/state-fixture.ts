import type { RolloutState } from './rollout-state.ts';

/** A valid stored rollout state for tests (running, step 1 of a 10,100 plan), with `overrides`. */
export function sampleState(
  overrides: Partial<Record<keyof RolloutState, unknown>> = {},
): Record<string, unknown> {
  return {
    version: 1,
    service: 'catalog',
    canary: 'v2',
    stable: 'v1',
    plan: [10, 100],
    step: 0,
    weight: 10,
    routesIndex: 3,
    status: 'running',
    reason: 'started',
    startedAt: 1,
    updatedAt: 2,
    controller: 's',
    decisions: [],
    ...overrides,
  };
}
