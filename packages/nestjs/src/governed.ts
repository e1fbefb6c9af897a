import { type GovernedMethodDecorator, type GovernedOptions, governed } from 'meshless';

/**
 * `@Governed('catalog.getItem', { timeoutMs: 300 })`: the method runs through the policies of
 * resource `catalog.getItem` (rules from Consul KV, live, over these options). No mesh is needed
 * when the class is defined and nothing is registered when it is imported: the method binds on
 * its first call to MeshModule's mesh (meshless `governed(name, options)`).
 */
export function Governed(name: string, options?: GovernedOptions): GovernedMethodDecorator {
  return governed(name, options);
}
