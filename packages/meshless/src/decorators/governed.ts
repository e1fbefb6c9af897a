import { ConfigError } from '@meshless/core';
import { type CodePolicies, validateCodePolicies } from '../governance/code-policies.ts';
import type { Governor } from '../governance/governor.ts';
import { type GovernedMethodDecorator, methodDecorator } from './method-decorator.ts';

/** Options of `@mesh.governed(name, options)`: code values under the rules, plus fallback. */
export type GovernedOptions = CodePolicies;

/**
 * `@mesh.governed('catalog.getItem', { timeoutMs: 300, fallback: () => null })`: the method runs
 * through the policies of resource `name`, whose rules live at `resources/<name>` (over
 * `defaults/policies`, over these options). Rules change the running method live; the options
 * apply while no rule says otherwise. Bad options throw ConfigError (with the field path) here,
 * at decoration time.
 */
export function governed(
  governor: Governor,
  name: string,
  options?: GovernedOptions,
): GovernedMethodDecorator {
  if (typeof name !== 'string' || name === '' || name.includes('/')) {
    throw new ConfigError("governed: name: expected a non-empty resource name without '/'", { path: 'name' });
  }
  validateCodePolicies(options, name);
  return methodDecorator(`@governed('${name}')`, { governor, name, options: { ...options } });
}
