import { ConfigError } from '@meshless/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { governorSetup } from '../governance/test-support.ts';
import { governed } from './governed.ts';
import {
  bindGovernedMeshIfUnset,
  governedMesh,
  releaseGovernedMesh,
  setGovernedMesh,
} from './governed-mesh.ts';

// governed(name, options) without a governor: declared before any mesh, bound on the first call.

/** Applies a decorator in experimentalDecorators mode, as TypeScript's __decorate does. */
function apply(proto: object, name: string, decorator: unknown): void {
  const descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
  const result = (decorator as (t: object, k: string, d: PropertyDescriptor) => PropertyDescriptor)(
    proto,
    name,
    descriptor,
  );
  Object.defineProperty(proto, name, result);
}

/** A fresh class per test: a decorated method binds once. */
function catalogClass(resource: string) {
  class Catalog {
    calls = 0;
    async get(): Promise<number> {
      this.calls++;
      throw new Error('flaky');
    }
  }
  apply(Catalog.prototype, 'get', governed(resource, { idempotent: true }));
  return Catalog;
}

afterEach(() => setGovernedMesh(undefined));

describe('governed(name) bound lazily', () => {
  it('needs no mesh at decoration time and rejects a call made before one exists, then binds', async () => {
    const Lazy = catalogClass('catalog.lazy');
    const early = new Lazy().get();
    await expect(early).rejects.toThrow(ConfigError);
    await expect(early).rejects.toThrow(/no mesh to bind to yet/);

    const { source, governor } = governorSetup();
    const spy = vi.spyOn(governor, 'policy');
    setGovernedMesh({ governor });
    source.put('resources/catalog.lazy', { retry: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 } } });
    const item = new Lazy();
    await expect(item.get()).rejects.toThrow('flaky');
    // The rule from the bound mesh's governor applies: three attempts.
    expect(item.calls).toBe(3);
    await expect(item.get()).rejects.toThrow('flaky');
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy).toHaveBeenCalledWith({ kind: 'resource', name: 'catalog.lazy' }, { idempotent: true });
  });

  it('stays on the mesh it bound to on its first call', async () => {
    const Bound = catalogClass('catalog.bound');
    const first = governorSetup();
    const second = governorSetup();
    first.source.put('resources/catalog.bound', { retry: { attempts: 2, backoff: { baseMs: 0, maxMs: 0 } } });
    setGovernedMesh({ governor: first.governor });
    const item = new Bound();
    await expect(item.get()).rejects.toThrow('flaky');
    setGovernedMesh({ governor: second.governor });
    await expect(item.get()).rejects.toThrow('flaky');
    expect(item.calls).toBe(4);
  });

  it('binds to the first mesh created, and lets a closed one go', () => {
    const a = { governor: governorSetup().governor };
    const b = { governor: governorSetup().governor };
    bindGovernedMeshIfUnset(a);
    bindGovernedMeshIfUnset(b);
    expect(governedMesh()).toBe(a);
    releaseGovernedMesh(b);
    expect(governedMesh()).toBe(a);
    releaseGovernedMesh(a);
    expect(governedMesh()).toBeUndefined();
    bindGovernedMeshIfUnset(b);
    expect(governedMesh()).toBe(b);
  });

  it('checks the name and options at decoration time, as with a governor', () => {
    expect(() => governed('')).toThrow(/name/);
    expect(() => governed('x', { breaker: { volume: 0 } })).toThrow(/breaker\.volume/);
  });
});
