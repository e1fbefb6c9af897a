// Shared by the governance and decorator tests (not exported from the package).
import { RuleStore } from '@meshless/core';
import { FakeRuleSource, ManualClock, seededRandom } from '@meshless/core/testing';
import { builtinSections } from '../rules/index.ts';
import { Governor } from './governor.ts';

/** A Governor on a manual clock, fed by an in-memory KV prefix (`source.put` applies at once). */
export function governorSetup() {
  const clock = new ManualClock();
  const source = new FakeRuleSource('meshless');
  const rules = new RuleStore({ prefix: 'meshless', sections: builtinSections, clock });
  source.subscribe((snapshot) => rules.applySnapshot(snapshot));
  const governor = new Governor({ rules, clock, random: seededRandom(7) });
  return { clock, source, rules, governor };
}

/** Lets promise reactions run (policies settle through a few microtask hops). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Tracks a promise's outcome without awaiting it (for calls that wait on the manual clock). */
export function settled<T>(p: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(state, { done: true, value }),
    (error: unknown) => Object.assign(state, { done: true, error }),
  );
  return state;
}

/** Work that resolves with `value` after `ms` on the manual clock. */
export function after<T>(clock: ManualClock, ms: number, value: T): () => Promise<T> {
  return () => new Promise<T>((resolve) => clock.setTimeout(() => resolve(value), ms));
}

/** Work that rejects at once with a fresh error. */
export const failing =
  (message = 'boom') =>
  (): Promise<never> =>
    Promise.reject(new Error(message));
