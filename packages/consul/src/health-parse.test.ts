import { endpoint } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import {
  endpointsFromCache,
  makeEndpoint,
  parseHealthServices,
  sameEndpoints,
  weightOf,
} from './health-parse.ts';

// Shapes as Consul 1.8.7 returns them from /v1/health/service/<name>?passing (trimmed).
function entry(
  node: string,
  id: string,
  service: Record<string, unknown> = {},
  nodeFields: Record<string, unknown> = {},
) {
  return {
    Node: { ID: 'x', Node: node, Address: '10.0.0.9', Datacenter: 'dc1', ...nodeFields },
    Service: {
      ID: id,
      Service: 'catalog',
      Tags: ['http'],
      Address: '',
      Meta: null,
      Port: 8080,
      Weights: { Passing: 1, Warning: 1 },
      ...service,
    },
    Checks: [{ CheckID: 'serfHealth', Status: 'passing', Output: 'Agent alive and reachable' }],
  };
}

describe('parseHealthServices', () => {
  it('builds endpoints: node-qualified id, service address else node address, meta zone/region, datacenter', () => {
    const body = JSON.stringify([
      entry('node-b', 'catalog-2', {
        Address: '10.1.0.2',
        Meta: { zone: 'eu-1a', region: 'eu-1', version: 'v2' },
      }),
      entry('node-a', 'catalog-1', {}, { Datacenter: 'dc2' }),
    ]);
    const list = parseHealthServices(body, 'catalog');
    expect(list).toEqual([
      endpoint('node-a/catalog-1', {
        service: 'catalog',
        address: '10.0.0.9',
        port: 8080,
        tags: ['http'],
        meta: {},
        weight: 1,
        datacenter: 'dc2',
      }),
      endpoint('node-b/catalog-2', {
        service: 'catalog',
        address: '10.1.0.2',
        port: 8080,
        tags: ['http'],
        meta: { zone: 'eu-1a', region: 'eu-1', version: 'v2' },
        weight: 1,
        zone: 'eu-1a',
        region: 'eu-1',
        datacenter: 'dc1',
      }),
    ]);
    expect(Object.isFrozen(list)).toBe(true);
    expect(Object.isFrozen(list[0])).toBe(true);
    expect(Object.isFrozen(list[1]!.meta)).toBe(true);
  });

  it('takes the weight from Weights.Passing, else meta weight, else 1, never below 1', () => {
    const body = JSON.stringify([
      entry('n', 'a', { Weights: { Passing: 5, Warning: 1 }, Meta: { weight: '9' } }),
      entry('n', 'b', { Weights: null, Meta: { weight: '3' } }),
      entry('n', 'c', { Weights: null, Meta: { weight: 'heavy' } }),
      entry('n', 'd', { Weights: null, Meta: { weight: '0' } }),
    ]);
    expect(parseHealthServices(body, 'catalog').map((e) => e.weight)).toEqual([5, 3, 1, 1]);
    expect(weightOf(undefined, undefined)).toBe(1);
  });

  it('skips entries nothing could call (no id, no address, bad port) and accepts null and empty bodies', () => {
    const body = JSON.stringify([
      entry('n', 'ok'),
      entry('n', '', {}),
      entry('n', 'no-address', { Address: '' }, { Address: '' }),
      entry('n', 'port-0', { Port: 0 }),
    ]);
    expect(parseHealthServices(body, 'catalog').map((e) => e.id)).toEqual(['n/ok']);
    expect(parseHealthServices('null', 'catalog')).toEqual([]);
    expect(parseHealthServices(Buffer.from('[]'), 'catalog')).toEqual([]);
  });

  it('with includeWarning (no ?passing): drops critical instances, weights warning ones by Weights.Warning', () => {
    const checks = (...status: string[]) => ({ Checks: status.map((Status) => ({ Status })) });
    const body = JSON.stringify([
      { ...entry('n', 'ok', { Weights: { Passing: 5, Warning: 2 } }), ...checks('passing', 'passing') },
      { ...entry('n', 'warn', { Weights: { Passing: 5, Warning: 2 } }), ...checks('passing', 'warning') },
      { ...entry('n', 'down', { Weights: { Passing: 5, Warning: 2 } }), ...checks('warning', 'critical') },
      { ...entry('n', 'odd'), ...checks('maintenance') },
    ]);
    const list = parseHealthServices(body, 'catalog', undefined, { includeWarning: true });
    expect(list.map((e) => [e.id, e.weight])).toEqual([
      ['n/ok', 5],
      ['n/warn', 2],
    ]);
    // Without the option the answer is trusted as filtered by ?passing.
    expect(parseHealthServices(body, 'catalog')).toHaveLength(4);
  });

  it('shares identical tag lists and meta maps between endpoints', () => {
    const meta = { version: 'v1', zone: 'eu-1a' };
    const list = parseHealthServices(
      JSON.stringify([entry('n', 'a', { Meta: meta }), entry('n', 'b', { Meta: { ...meta } })]),
      'catalog',
    );
    expect(list[0]!.meta).toBe(list[1]!.meta);
    expect(list[0]!.tags).toBe(list[1]!.tags);
  });
});

describe('sameEndpoints', () => {
  it('compares what a consumer sees, not object identity or meta key order', () => {
    const a = [endpoint('n/a', { meta: { version: 'v1', zone: 'z' }, tags: ['x'] })];
    const b = [endpoint('n/a', { meta: { zone: 'z', version: 'v1' }, tags: ['x'] })];
    expect(sameEndpoints(a, b)).toBe(true);
    expect(sameEndpoints(a, [endpoint('n/a', { meta: { version: 'v2', zone: 'z' }, tags: ['x'] })])).toBe(
      false,
    );
    expect(sameEndpoints(a, [endpoint('n/a', { meta: { version: 'v1' }, tags: ['x'] })])).toBe(false);
    expect(sameEndpoints(a, [endpoint('n/a', { meta: { version: 'v1', zone: 'z' }, tags: [] })])).toBe(false);
    expect(
      sameEndpoints(a, [endpoint('n/a', { meta: { version: 'v1', zone: 'z' }, tags: ['x'], weight: 2 })]),
    ).toBe(false);
    expect(sameEndpoints(a, [...a, ...b])).toBe(false);
  });

  it('ignores check output changes: same endpoints from bodies that differ', () => {
    const one = entry('n', 'a');
    const two = {
      ...entry('n', 'a'),
      Checks: [{ CheckID: 'service:a', Status: 'passing', Output: 'beat 2' }],
    };
    const a = parseHealthServices(JSON.stringify([one]), 'catalog');
    const b = parseHealthServices(JSON.stringify([two]), 'catalog');
    expect(sameEndpoints(a, b)).toBe(true);
  });
});

describe('Connect-native instances', () => {
  it('mark mtls: true from Service.Connect.Native === true only; others carry no mtls field', () => {
    const body = JSON.stringify([
      entry('n', 'a', { Connect: { Native: true } }),
      entry('n', 'b', { Connect: { Native: 'true' } }),
      entry('n', 'c', { Connect: null }),
      entry('n', 'd'),
    ]);
    const [a, b, c, d] = parseHealthServices(body, 'catalog');
    expect(a!.mtls).toBe(true);
    for (const e of [b!, c!, d!]) expect(Object.hasOwn(e, 'mtls')).toBe(false);
  });

  it('count in change detection and survive the cache round-trip', () => {
    const fields = { id: 'n/a', service: 's', address: '10.0.0.1', port: 80, tags: [], meta: {}, weight: 1 };
    const plain = makeEndpoint(fields);
    const native = makeEndpoint({ ...fields, mtls: true });
    expect(makeEndpoint({ ...fields, mtls: false })).toEqual(plain);
    expect(sameEndpoints([plain], [native])).toBe(false);
    expect(sameEndpoints([native], [makeEndpoint({ ...fields, mtls: true })])).toBe(true);
    const other = makeEndpoint({ ...fields, id: 'n/b' });
    expect(endpointsFromCache(JSON.parse(JSON.stringify({ endpoints: [other, native] })))).toEqual([
      native,
      other,
    ]);
  });
});

describe('endpointsFromCache', () => {
  it('round-trips a cached list and drops malformed entries', () => {
    const good = endpoint('n/a', { zone: 'z', meta: { zone: 'z' }, datacenter: 'dc1', weight: 3 });
    const cached = JSON.parse(
      JSON.stringify({ service: 'svc', endpoints: [good, { id: 'n/b', port: 'x' }, null, { id: 'n/c' }] }),
    );
    expect(endpointsFromCache(cached)).toEqual([good]);
    expect(endpointsFromCache({ nope: true })).toBeUndefined();
    expect(endpointsFromCache(null)).toBeUndefined();
  });
});

describe('parseHealthServices: meta keys are data', () => {
  it('keeps `__proto__` and `constructor` meta as own keys, and reads no zone the service did not register', () => {
    const body = JSON.stringify([entry('n1', 'a', { Meta: { version: 'v1' } })]).replace(
      '"version":"v1"',
      '"__proto__":"x","constructor":"y","version":"v1"',
    );
    const [ep] = parseHealthServices(body, 'catalog');
    expect(Object.keys(ep!.meta)).toEqual(['__proto__', 'constructor', 'version']);
    expect(Object.getPrototypeOf(ep!.meta)).toBe(null);
    expect(ep!.meta['__proto__']).toBe('x');
    expect(ep!.meta.toString).toBeUndefined();
    const [bare] = parseHealthServices(JSON.stringify([entry('n1', 'b')]), 'catalog');
    expect(bare!.meta.constructor).toBeUndefined();
    // The disk cache round trip keeps them too.
    const cached = endpointsFromCache(JSON.parse(JSON.stringify({ endpoints: [ep] })))!;
    expect(cached[0]!.meta['__proto__']).toBe('x');
  });
});
