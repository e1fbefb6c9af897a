import { ConfigError } from '@meshless/core';
import { type CodePolicies, validateCodePolicies } from '../governance/code-policies.ts';
import type { Governor } from '../governance/governor.ts';
import { boundGovernor } from './governed-mesh.ts';
import { type GovernedMethodDecorator, methodDecorator } from './method-decorator.ts';

/** Options of `@mesh.governed(name, options)`: code values under the rules, plus fallback. */
export type GovernedOptions = CodePolicies;

/**
 * `@governed('catalog.getItem', { timeoutMs: 300, fallback: () => null })`: the method runs
 * through the policies of resource `name`, whose rules live at `resources/<name>` (over
 * `defaults/policies`, over these options). Rules change the running method live; the options
 * apply while no rule says otherwise. Bad options throw ConfigError (with the field path) here,
 * at decoration time.
 *
 * Without a governor it binds lazily: no mesh is needed when the class is defined, and nothing
 * happens in Consul when it is imported. On its first call the method binds to the mesh of
 * setGovernedMesh (by default the first mesh createMesh made); with no mesh yet, that call
 * rejects with ConfigError and the next one tries again. `mesh.governed(...)` passes its own.
 */
export function governed(name: string, options?: GovernedOptions): GovernedMethodDecorator;
export function governed(
  governor: Governor,
  name: string,
  options?: GovernedOptions,
): GovernedMethodDecorator;
export function governed(
  first: Governor | string,
  second?: string | GovernedOptions,
  third?: GovernedOptions,
): GovernedMethodDecorator {
  const lazy = typeof first === 'string';
  const name = lazy ? first : second;
  const options = lazy ? (second as GovernedOptions | undefined) : third;
  if (typeof name !== 'string' || name === '' || name.includes('/')) {
    throw new ConfigError("governed: name: expected a non-empty resource name without '/'", { path: 'name' });
  }
  validateCodePolicies(options, name);
  const governor = lazy ? () => boundGovernor(name) : first;
  return methodDecorator(`@governed('${name}')`, { governor, name, options: { ...options } });
}
