import { ConfigError } from '@meshless/core';
import { type CodePolicies, validateCodePolicies } from '../governance/code-policies.ts';
import type { GovernedPolicy } from '../governance/governed-policy.ts';
import type { Governor } from '../governance/governor.ts';
import { mergeSettings } from '../governance/merge-settings.ts';
import { localGovernor } from './local-governor.ts';

type AsyncMethod<This, Args extends unknown[], R> = (this: This, ...args: Args) => Promise<R>;

/**
 * A meshless method decorator. Works as a TypeScript 5 standard decorator
 * (`(value, context)`) and with `experimentalDecorators` (NestJS: `(target, key, descriptor)`);
 * which one is told by the arguments. Only on methods that return a Promise: a decorated
 * method always does (a synchronous throw becomes a rejection), and its type must say so.
 */
export interface GovernedMethodDecorator {
  <This, Args extends unknown[], R>(
    value: AsyncMethod<This, Args, R>,
    context: ClassMethodDecoratorContext<This, AsyncMethod<This, Args, R>>,
  ): AsyncMethod<This, Args, R>;
  <T extends (...args: never[]) => Promise<unknown>>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T>;
}

/** What one decorator contributes to a method. */
export interface DecoratorPart {
  /**
   * Set by `governed()`: rules from this governor apply; a function is asked on the first call
   * (lazy binding; if it throws, that call rejects and the next asks again). Default: the local
   * governor (code values only).
   */
  readonly governor?: Governor | (() => Governor) | undefined;
  /** Set by `governed()`: the resource name. Default `<Class>.<method>`. */
  readonly name?: string | undefined;
  readonly options: CodePolicies;
}

interface MethodInfo {
  readonly original: (...args: unknown[]) => unknown;
  readonly methodName: string;
  /** The class name when the decorator saw it (experimentalDecorators), else taken from the first call. */
  readonly owner: string | undefined;
  readonly part: DecoratorPart;
}

const INFO = Symbol.for('meshless.governedMethod');

/** Builds the decorator for one part (the factories call this with their options, already checked). */
export function methodDecorator(what: string, part: DecoratorPart): GovernedMethodDecorator {
  function decorate(target: unknown, key: unknown, descriptor?: unknown): unknown {
    if (isStandardContext(key)) {
      if (key.kind !== 'method') {
        throw new ConfigError(`${what}: decorates methods, not a ${key.kind}`, { path: String(key.name) });
      }
      return wrapMethod(target as MethodInfo['original'], String(key.name), undefined, part);
    }
    if (isMethodDescriptor(descriptor)) {
      const owner =
        typeof target === 'function'
          ? target.name
          : (target as { constructor?: Function })?.constructor?.name;
      const wrapped = wrapMethod(descriptor.value, String(key), owner, part);
      copyReflectMetadata(descriptor.value, wrapped);
      return { ...descriptor, value: wrapped };
    }
    throw new ConfigError(`${what}: decorates methods only`, { path: String(key) });
  }
  return decorate as GovernedMethodDecorator;
}

/**
 * Replaces a method with one that runs through its policies. Decorators stacked on one method
 * collapse into one wrapper around the original, whatever their order, so the stack is always
 * fallback, rate limit, bulkhead, retry, breaker, timeout; for a field set twice, the decorator
 * written above wins. The policy handle is made on the first call, once per decorated method
 * (shared by every instance and subclass), not per call.
 */
function wrapMethod(
  method: MethodInfo['original'],
  methodName: string,
  owner: string | undefined,
  part: DecoratorPart,
): MethodInfo['original'] {
  if (typeof method !== 'function') throw new ConfigError('decorates methods only', { path: methodName });
  const prior = (method as { [INFO]?: MethodInfo })[INFO];
  const info: MethodInfo = {
    original: prior ? prior.original : method,
    methodName,
    owner: owner ?? prior?.owner,
    part: prior ? combine(prior.part, part) : part,
  };
  // Each part was checked alone; check the combination too, still at decoration time.
  validateCodePolicies(info.part.options, info.part.name ?? methodName);
  return makeWrapper(info);
}

function makeWrapper(info: MethodInfo): MethodInfo['original'] {
  const original = info.original;
  let handle: GovernedPolicy | undefined;
  const governed = function (this: unknown, ...args: unknown[]): Promise<unknown> {
    let h = handle;
    if (h === undefined) {
      try {
        h = handle = createHandle(info, this);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return h.call(original, this, args);
  };
  Object.defineProperty(governed, 'name', { value: original.name, configurable: true });
  Object.defineProperty(governed, 'length', { value: original.length, configurable: true });
  Object.defineProperty(governed, INFO, { value: info });
  return governed;
}

function createHandle(info: MethodInfo, self: unknown): GovernedPolicy {
  const { part } = info;
  const owner =
    info.owner ??
    (typeof self === 'function' ? self.name : (self as { constructor?: Function } | null)?.constructor?.name);
  // A name is one KV key segment; a local name only labels errors, so '/' is just replaced.
  const name = part.name ?? `${owner || 'anonymous'}.${info.methodName}`.replaceAll('/', '.');
  const governor = typeof part.governor === 'function' ? part.governor() : (part.governor ?? localGovernor());
  return governor.policy({ kind: 'resource', name }, part.options);
}

/** Merges two parts, the outer (applied later, written above) winning field by field. */
function combine(inner: DecoratorPart, outer: DecoratorPart): DecoratorPart {
  const { fallback: _f, fallbackOn: _fo, idempotent: _i, ...innerRules } = inner.options;
  const { fallback: _g, fallbackOn: _go, idempotent: _j, ...outerRules } = outer.options;
  const options: CodePolicies = { ...mergeSettings([innerRules, outerRules]) };
  const from = (key: 'fallback' | 'fallbackOn' | 'idempotent') =>
    key in outer.options ? outer.options : key in inner.options ? inner.options : undefined;
  for (const key of ['fallback', 'fallbackOn', 'idempotent'] as const) {
    const source = from(key);
    if (source) (options as Record<string, unknown>)[key] = source[key];
  }
  return {
    governor: outer.governor ?? inner.governor,
    name: outer.name ?? inner.name,
    options,
  };
}

function isStandardContext(value: unknown): value is { kind: string; name: string | symbol } {
  return typeof value === 'object' && value !== null && 'kind' in value && 'name' in value;
}

function isMethodDescriptor(value: unknown): value is PropertyDescriptor & { value: MethodInfo['original'] } {
  return (
    typeof value === 'object' && value !== null && typeof (value as PropertyDescriptor).value === 'function'
  );
}

interface ReflectMetadata {
  getMetadataKeys?(target: object): unknown[];
  getMetadata?(key: unknown, target: object): unknown;
  defineMetadata?(key: unknown, value: unknown, target: object): void;
}

/**
 * NestJS (reflect-metadata) keeps route and guard metadata on the method function; decorators
 * written below this one put it on the original, so the wrapper carries it over.
 */
function copyReflectMetadata(from: object, to: object): void {
  const reflect = Reflect as unknown as ReflectMetadata;
  if (typeof reflect.getMetadataKeys !== 'function' || typeof reflect.defineMetadata !== 'function') return;
  for (const key of reflect.getMetadataKeys(from)) {
    reflect.defineMetadata(key, reflect.getMetadata?.(key, from), to);
  }
}
