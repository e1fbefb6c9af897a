import { BreakerRegistry } from '@meshless/breaker';
import { ClosedError, ConfigError, RuleStore } from '@meshless/core';
import { endpoint, FakeResolver, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { RecordingObserver, ScriptedSender } from './client/test-support.ts';
import { MeshClients } from './mesh-clients.ts';
import { builtinSections } from './rules/index.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Real clients over fake resolvers; records each resolve (service and failover order) and each new client. */
function setup(meshDatacenters?: readonly string[]) {
  const clock = new ManualClock();
  const resolvers = new Map<string, FakeResolver>();
  const resolved: string[] = [];
  const made: string[] = [];
  const clients = new MeshClients({
    shared: {
      caller: 'frontend',
      localZone: undefined,
      localRegion: undefined,
      rules: new RuleStore({ prefix: 'meshless', sections: builtinSections, clock }),
      breakers: new BreakerRegistry({ clock }),
      transport: new ScriptedSender(),
      clock,
      random: seededRandom(1),
      logger: silent,
      observer: new RecordingObserver(),
    },
    resolve: (service, datacenters) => {
      resolved.push(`${service} [${datacenters ?? 'own'}]`);
      const resolver = new FakeResolver([endpoint(`${service}-1`, { service })]);
      resolvers.set(service, resolver);
      return resolver;
    },
    datacenters: meshDatacenters,
    onDidMake: (service) => made.push(service),
  });
  return { clients, resolvers, resolved, made };
}

describe('MeshClients', () => {
  it('makes one client per service on first use and hands the same one back after', () => {
    const { clients, resolved, made } = setup();
    const catalog = clients.client('catalog');
    expect(clients.client('catalog')).toBe(catalog);
    expect(clients.client('catalog', {})).toBe(catalog);
    const orders = clients.client('orders');
    expect(orders).not.toBe(catalog);
    expect(orders.service).toBe('orders');
    expect(resolved).toEqual(['catalog [own]', 'orders [own]']);
    expect(made).toEqual(['catalog', 'orders']);
    expect([...clients.services()]).toEqual(['catalog', 'orders']);
    expect(clients.all()).toEqual([catalog, orders]);
  });

  it("resolves with the client's failover order, else the mesh's, and refuses another order later", () => {
    const { clients, resolved } = setup(['east', 'west']);
    const catalog = clients.client('catalog');
    clients.client('orders', { datacenters: ['west'] });
    clients.client('users', { datacenters: [] });
    expect(resolved).toEqual(['catalog [east,west]', 'orders [west]', 'users [own]']);
    // Naming the order the client was made with is fine; naming none takes the existing client.
    expect(clients.client('catalog', { datacenters: ['east', 'west'] })).toBe(catalog);
    expect(clients.client('orders')).toBe(clients.client('orders', { datacenters: ['west'] }));
    const error = (() => {
      try {
        clients.client('catalog', { datacenters: ['west'] });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({
      path: 'datacenters',
      message: 'datacenters: the client for catalog already exists with failover order [east,west]',
    });
    expect(resolved).toHaveLength(3);
  });

  it('checks the failover order before making anything', () => {
    const { clients, resolved, made } = setup();
    expect(() => clients.client('catalog', { datacenters: [''] })).toThrow(ConfigError);
    expect(() => clients.client('catalog', { datacenters: 'east' as never })).toThrow('datacenters');
    expect(resolved).toEqual([]);
    expect(made).toEqual([]);
  });

  it('closes every client on dispose, and makes none after', async () => {
    const { clients, resolvers } = setup();
    const catalog = clients.client('catalog');
    const resolver = resolvers.get('catalog')!;
    await resolver.set([endpoint('c1', { service: 'catalog' }), endpoint('c2', { service: 'catalog' })]);
    expect(catalog.status().endpoints).toBe(2);
    clients.dispose();
    // A closed client no longer follows its service's membership.
    await resolver.set([endpoint('c1', { service: 'catalog' })]);
    expect(catalog.status().endpoints).toBe(2);
    expect([...clients.services()]).toEqual([]);
    expect(() => clients.client('catalog')).toThrow(ClosedError);
  });
});
