import { isDeepStrictEqual } from 'node:util';
import { CircuitOpenError, TimeoutError } from '@meshless/core';
import { createMesh, type Mesh, resourceSection } from 'meshless';
import { afterEach, describe, expect, it } from 'vitest';
// Until `meshless` exports them (see the governance report), from the sources.
import { type GovernedMethodDecorator, governed } from '../packages/meshless/src/decorators/index.ts';
import { Governor } from '../packages/meshless/src/governance/index.ts';
import { consulAddress, eventually, kvClient, uniquePrefix } from './helpers/consul.ts';

// A decorated method on a real mesh: rules written to Consul KV change its timeout and breaker
// while it runs, with nothing re-created.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Applies a method decorator as compiled standard-decorator code does (no decorator syntax here). */
function decorate(proto: object, name: string, decorator: GovernedMethodDecorator): void {
  const method = (proto as Record<string, (...args: never[]) => Promise<unknown>>)[name]!;
  const context = { kind: 'method', name, static: false, private: false, addInitializer() {}, metadata: {} };
  const apply = decorator as unknown as (value: typeof method, ctx: unknown) => typeof method;
  Object.defineProperty(proto, name, { value: apply(method, context), configurable: true, writable: true });
}

async function setup(): Promise<{ mesh: Mesh; governor: Governor; prefix: string }> {
  const prefix = uniquePrefix('governed');
  const mesh = await createMesh({
    consul: { address: consulAddress() },
    prefix,
    cacheDir: false,
    logger: 'silent',
  });
  const governor = new Governor({ rules: mesh.rules });
  cleanups.push(
    () => mesh.close(),
    () => governor.dispose(),
  );
  return { mesh, governor, prefix };
}

async function put(prefix: string, mesh: Mesh, name: string, value: object): Promise<void> {
  const { kv, connection } = kvClient();
  await kv.put(`${prefix}/resources/${name}`, value);
  await connection.close();
  await eventually(
    () => isDeepStrictEqual(mesh.rules.get(resourceSection, name), value),
    5000,
    `rule ${name} applied`,
  );
}

describe('governed methods on a real Consul', () => {
  it('change their timeout live: code value, then a rule, then the code value again', async () => {
    const { mesh, governor, prefix } = await setup();
    class Catalog {
      async getItem(ms: number): Promise<string> {
        await sleep(ms);
        return `item after ${ms}`;
      }
    }
    decorate(Catalog.prototype, 'getItem', governed(governor, 'catalog.getItem', { timeoutMs: 300 }));
    const catalog = new Catalog();

    await expect(catalog.getItem(50)).resolves.toBe('item after 50');

    await put(prefix, mesh, 'catalog.getItem', { timeoutMs: 200 });
    await expect(catalog.getItem(50)).resolves.toBe('item after 50');

    await put(prefix, mesh, 'catalog.getItem', { timeoutMs: 20 });
    const error = await catalog.getItem(50).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'MESHLESS_TIMEOUT', resource: 'catalog.getItem', timeoutMs: 20 });

    const { kv, connection } = kvClient();
    await kv.delete(`${prefix}/resources/catalog.getItem`);
    await connection.close();
    await eventually(() => mesh.rules.get(resourceSection, 'catalog.getItem') === undefined);
    await expect(catalog.getItem(50)).resolves.toBe('item after 50');
  });

  it('open their breaker sooner when a rule lowers its volume, on the same breaker', async () => {
    const { mesh, governor, prefix } = await setup();
    let invoked = 0;
    class Payments {
      async charge(): Promise<string> {
        invoked++;
        throw new Error('card service down');
      }
    }
    decorate(Payments.prototype, 'charge', governed(governor, 'payments.charge'));
    const payments = new Payments();
    await put(prefix, mesh, 'payments.charge', { breaker: { volume: 10, errorPercent: 50, openMs: 60_000 } });

    for (let i = 0; i < 4; i++) await expect(payments.charge()).rejects.toThrow('card service down');
    expect(invoked).toBe(4);
    expect(governor.breakerStatus()).toEqual([
      { kind: 'resource', resource: 'payments.charge', endpointId: undefined, state: 'closed' },
    ]);

    await put(prefix, mesh, 'payments.charge', { breaker: { volume: 5, errorPercent: 50, openMs: 60_000 } });
    await expect(payments.charge()).rejects.toThrow('card service down');
    const error = await payments.charge().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ resource: 'payments.charge' });
    expect(invoked).toBe(5);
    expect(governor.breakerStatus()[0]!.state).toBe('open');

    // A looser threshold does not close a breaker that is open.
    await put(prefix, mesh, 'payments.charge', { breaker: { volume: 50, errorPercent: 90, openMs: 60_000 } });
    await expect(payments.charge()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(invoked).toBe(5);
  });
});
