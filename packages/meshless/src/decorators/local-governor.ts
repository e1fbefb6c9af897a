import { RuleStore } from '@meshless/core';
import { Governor } from '../governance/governor.ts';

let local: Governor | undefined;

/**
 * The Governor behind decorators used without a mesh (`@retry`, `@timeout`, ...): no rules,
 * code values only, system clock. Made on first use.
 */
export function localGovernor(): Governor {
  local ??= new Governor({ rules: new RuleStore({ prefix: 'local', sections: [] }) });
  return local;
}

/**
 * Replaces the local Governor (e.g. one on a ManualClock in tests, or with a logger). Applies to
 * decorated methods not called yet: a method makes its policies on its first call.
 * `undefined` goes back to the default one.
 */
export function setLocalGovernor(governor: Governor | undefined): void {
  local = governor;
}
