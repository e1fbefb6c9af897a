// Applies a meshless method decorator the way compiled standard-decorator code does (Node's type
// stripping cannot parse `@`), so benches call decorated methods exactly as an app would.
import type { GovernedMethodDecorator } from 'meshless';

export function decorate(proto: object, name: string, decorator: GovernedMethodDecorator): void {
  const method = (proto as Record<string, (...args: never[]) => Promise<unknown>>)[name]!;
  const context = { kind: 'method', name, static: false, private: false, addInitializer() {}, metadata: {} };
  const apply = decorator as unknown as (value: typeof method, ctx: unknown) => typeof method;
  Object.defineProperty(proto, name, { value: apply(method, context), configurable: true, writable: true });
}
