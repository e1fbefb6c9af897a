import { describe, expect, it } from 'vitest';
import { findManagedRoutes, RouteError, withCanaryWeight } from './route-weights.ts';

const doc = {
  subsets: {
    v1: { meta: { version: 'v1' } },
    v2: { meta: { version: 'v2' } },
    v3: { meta: { version: 'v3' } },
  },
  routes: [
    { name: 'beta', match: { headers: { 'x-beta': { exact: '1' } } }, to: [{ subset: 'v2' }] },
    {
      name: 'three',
      match: { path: { prefix: '/x' } },
      to: [
        { subset: 'v1', weight: 50 },
        { subset: 'v3', weight: 50 },
      ],
    },
    {
      name: 'api',
      match: { path: { prefix: '/api' } },
      stickyBy: { header: 'x-user-id' },
      to: [{ subset: 'v1' }],
    },
    {
      name: 'default',
      to: [
        { subset: 'v2', weight: 0 },
        { subset: 'v1', weight: 100 },
      ],
    },
  ],
};
const raw = Buffer.from(JSON.stringify(doc));

describe('managed routes', () => {
  it('moves only routes to stable alone or stable and canary; keeps every other field', () => {
    const managed = findManagedRoutes(raw, 'k', 'v1', 'v2');
    expect(managed.indexes).toEqual([2, 3]);
    expect(managed.canaryWeight).toBe(0);
    const next = JSON.parse(withCanaryWeight(managed, 'v1', 'v2', 25).toString());
    expect(next.routes[0]).toEqual(doc.routes[0]);
    expect(next.routes[1]).toEqual(doc.routes[1]);
    expect(next.routes[2]).toEqual({
      ...doc.routes[2],
      to: [
        { subset: 'v1', weight: 75 },
        { subset: 'v2', weight: 25 },
      ],
    });
    expect(next.subsets).toEqual(doc.subsets);
    expect(findManagedRoutes(withCanaryWeight(managed, 'v1', 'v2', 25), 'k', 'v1', 'v2').canaryWeight).toBe(
      25,
    );
  });

  it('reports disagreeing weights as undefined', () => {
    const managed = findManagedRoutes(raw, 'k', 'v1', 'v2');
    const edited = JSON.parse(withCanaryWeight(managed, 'v1', 'v2', 5).toString());
    edited.routes[3].to = [
      { subset: 'v1', weight: 90 },
      { subset: 'v2', weight: 10 },
    ];
    expect(
      findManagedRoutes(Buffer.from(JSON.stringify(edited)), 'k', 'v1', 'v2').canaryWeight,
    ).toBeUndefined();
  });

  it('refuses an invalid document, an undefined subset, and nothing to move', () => {
    expect(() => findManagedRoutes(Buffer.from('{"routes": 5}'), 'k', 'v1', 'v2')).toThrow(RouteError);
    expect(() => findManagedRoutes(raw, 'k', 'v1', 'v9')).toThrow(/subsets.v9 is not defined/);
    expect(() => findManagedRoutes(raw, 'k', 'v3', 'v2')).toThrow(/no route sends to v3/);
  });
});
