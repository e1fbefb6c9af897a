import { ConfigError, RuleStore, TimeoutError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Governor } from '../governance/governor.ts';
import { after, failing, flush, governorSetup, settled } from '../governance/test-support.ts';
import { governed } from './governed.ts';
import { setLocalGovernor } from './local-governor.ts';
import type { GovernedMethodDecorator } from './method-decorator.ts';
import { fallback, idempotent, retry, timeout } from './standalone.ts';

// Decorator syntax is compiled by tsc in test/decorators; here the decorators are applied by
// hand, exactly as the compiled code calls them in each mode.

type Method = (this: unknown, ...args: never[]) => Promise<unknown>;

function context(name: string, kind = 'method'): ClassMethodDecoratorContext {
  return {
    kind,
    name,
    static: false,
    private: false,
    access: { has: () => true, get: () => undefined },
    addInitializer: () => {},
    metadata: {},
  } as unknown as ClassMethodDecoratorContext;
}

/** Applies decorators (listed top to bottom, as written) in standard mode. */
function applyStandard(proto: object, name: string, ...decorators: GovernedMethodDecorator[]): void {
  let value = (proto as Record<string, Method>)[name]!;
  for (const d of [...decorators].reverse()) {
    value = (d as unknown as (v: Method, c: ClassMethodDecoratorContext) => Method)(value, context(name));
  }
  Object.defineProperty(proto, name, { value, configurable: true, writable: true });
}

/** Applies decorators in experimentalDecorators mode, as TypeScript's __decorate does. */
function applyLegacy(proto: object, name: string, ...decorators: GovernedMethodDecorator[]): void {
  let descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
  for (const d of [...decorators].reverse()) {
    descriptor =
      (d as unknown as (t: object, k: string, desc: PropertyDescriptor) => PropertyDescriptor)(
        proto,
        name,
        descriptor,
      ) ?? descriptor;
  }
  Object.defineProperty(proto, name, descriptor);
}

function useLocalClock(): ManualClock {
  const clock = new ManualClock();
  setLocalGovernor(new Governor({ rules: new RuleStore({ prefix: 'local', sections: [] }), clock }));
  return clock;
}

afterEach(() => setLocalGovernor(undefined));

describe.each([
  ['standard', applyStandard],
  ['legacy', applyLegacy],
] as const)('method decorators (%s mode)', (_mode, apply) => {
  it('keep this, arguments, name and length, and time out with the class name in the error', async () => {
    const clock = useLocalClock();
    class Catalog {
      prefix = 'item';
      async get(id: string, ms: number): Promise<string> {
        await after(clock, ms, undefined)();
        return `${this.prefix}-${id}`;
      }
    }
    apply(Catalog.prototype, 'get', timeout(50));
    const catalog = new Catalog();
    expect(Catalog.prototype.get.name).toBe('get');
    expect(Catalog.prototype.get.length).toBe(2);
    const ok = settled(catalog.get('1', 10));
    clock.advance(10);
    await flush();
    expect(ok.value).toBe('item-1');
    const slow = settled(catalog.get('2', 80));
    clock.advance(50);
    await flush();
    expect(slow.error).toBeInstanceOf(TimeoutError);
    expect(slow.error).toMatchObject({ resource: 'Catalog.get' });
  });

  it('rethrows the original error and turns a synchronous throw into a rejection', async () => {
    useLocalClock();
    const error = new RangeError('bad id');
    class Catalog {
      get(): Promise<string> {
        throw error;
      }
    }
    apply(Catalog.prototype, 'get', timeout(50));
    const result = new Catalog().get();
    expect(result).toBeInstanceOf(Promise);
    await expect(result).rejects.toBe(error);
  });

  it('composes stacked decorators in stack order whatever the written order', async () => {
    useLocalClock();
    let calls = 0;
    class A {
      async run(): Promise<string> {
        calls++;
        throw new Error('down');
      }
    }
    class B {
      async run(): Promise<string> {
        calls++;
        throw new Error('down');
      }
    }
    apply(A.prototype, 'run', fallback('cached'), retry({ attempts: 3, backoff: { baseMs: 0, maxMs: 0 } }));
    apply(B.prototype, 'run', retry({ attempts: 3, backoff: { baseMs: 0, maxMs: 0 } }), fallback('cached'));
    await expect(new A().run()).resolves.toBe('cached');
    expect(calls).toBe(3);
    calls = 0;
    await expect(new B().run()).resolves.toBe('cached');
    expect(calls).toBe(3);
  });

  it('makes the policies once per decorated method, on its first call, shared by instances', async () => {
    const { governor } = governorSetup();
    const spy = vi.spyOn(governor, 'policy');
    class Catalog {
      async get(): Promise<number> {
        return 1;
      }
    }
    apply(Catalog.prototype, 'get', governed(governor, 'catalog.get', { timeoutMs: 100 }));
    expect(spy).not.toHaveBeenCalled();
    await new Catalog().get();
    await new Catalog().get();
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy).toHaveBeenCalledWith({ kind: 'resource', name: 'catalog.get' }, { timeoutMs: 100 });
  });

  it('combines governed() with standalone decorators into one resource', async () => {
    const { source, governor } = governorSetup();
    let calls = 0;
    class Catalog {
      async get(): Promise<number> {
        calls++;
        throw new Error('flaky');
      }
    }
    apply(Catalog.prototype, 'get', governed(governor, 'catalog.get'), idempotent());
    source.put('resources/catalog.get', { retry: { attempts: 2, backoff: { baseMs: 0, maxMs: 0 } } });
    await expect(new Catalog().get()).rejects.toThrow('flaky');
    expect(calls).toBe(2);
  });

  it('checks options at decoration time, also across stacked decorators', () => {
    class Catalog {
      async get(): Promise<number> {
        return 1;
      }
    }
    const attempt = () =>
      apply(Catalog.prototype, 'get', retry({ backoff: { maxMs: 50 } }), retry({ backoff: { baseMs: 100 } }));
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/retry\.backoff\.maxMs: 50 is below baseMs 100/);
  });

  it('runs nearly raw under governed() with no rule and no option, errors passing through', async () => {
    const { governor } = governorSetup();
    class Catalog {
      get(): Promise<never> {
        return failing('plain')();
      }
    }
    apply(Catalog.prototype, 'get', governed(governor, 'catalog.plain'));
    await expect(new Catalog().get()).rejects.toThrow('plain');
  });
});

describe('method decorators: misuse and interop', () => {
  it('throw ConfigError with the field path for bad options', () => {
    const { governor } = governorSetup();
    const cases: [() => unknown, string][] = [
      [() => timeout(-1), 'timeoutMs'],
      [() => retry({ attempts: 0 }), 'retry.attempts'],
      [() => governed(governor, 'x', { breaker: { volume: 0 } }), 'breaker.volume'],
      [() => governed(governor, '', {}), 'name'],
      [() => governed(governor, 'x', { fallbackOn: 'some' as 'all' }), 'fallbackOn'],
    ];
    for (const [make, path] of cases) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ path });
    }
  });

  it('refuse anything but a method', () => {
    const decorate = timeout(10) as unknown as (...args: unknown[]) => unknown;
    expect(() => decorate(undefined, context('field', 'field'))).toThrow(/decorates methods, not a field/);
    expect(() => decorate({}, 'x', { get: () => 1 })).toThrow(ConfigError);
  });

  it('carry reflect-metadata (NestJS routes, guards) over to the wrapper in legacy mode', () => {
    const store = new Map<object, Map<unknown, unknown>>();
    const reflect = Reflect as unknown as Record<string, unknown>;
    reflect.getMetadataKeys = (target: object) => [...(store.get(target)?.keys() ?? [])];
    reflect.getMetadata = (key: unknown, target: object) => store.get(target)?.get(key);
    reflect.defineMetadata = (key: unknown, value: unknown, target: object) => {
      if (!store.has(target)) store.set(target, new Map());
      store.get(target)!.set(key, value);
    };
    try {
      class Controller {
        async list(): Promise<number[]> {
          return [];
        }
      }
      (Reflect as unknown as { defineMetadata: (k: unknown, v: unknown, t: object) => void }).defineMetadata(
        'path',
        '/items',
        Controller.prototype.list,
      );
      applyLegacy(Controller.prototype, 'list', timeout(100));
      expect(store.get(Controller.prototype.list)?.get('path')).toBe('/items');
    } finally {
      delete reflect.getMetadataKeys;
      delete reflect.getMetadata;
      delete reflect.defineMetadata;
    }
  });
});
