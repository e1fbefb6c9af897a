import { parseRuleDocument } from '@meshless/core';
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

// As an operator writes it: comments everywhere, blank lines, flow and block styles, quoting.
const commented = `# catalog routes: owned by the payments team
subsets:
  v1: { meta: { version: v1 } } # the current release
  v2:
    meta:
      version: "v2"

routes:
  # beta users always get the canary
  - name: beta
    match:
      headers:
        x-beta: { exact: '1' }
    to: [{ subset: v2 }]

  # everyone else: moved by meshless rollout
  - name: default
    to:
      # stable first
      - subset: v1
        weight: 100 # what stable keeps
      - subset: v2
        weight: 0
`;

describe('managed routes in YAML', () => {
  it('moves the weights and changes nothing else: comments, order, blank lines, quoting stay', () => {
    let raw: Buffer = Buffer.from(commented);
    for (const w of [10, 50, 100]) {
      raw = withCanaryWeight(findManagedRoutes(raw, 'k', 'v1', 'v2'), 'v1', 'v2', w);
      expect(raw.toString()).toBe(
        commented
          .replace('weight: 100 # what', `weight: ${100 - w} # what`)
          .replace('weight: 0\n', `weight: ${w}\n`),
      );
      expect(findManagedRoutes(raw, 'k', 'v1', 'v2').canaryWeight).toBe(w);
    }
  });

  it('keeps a 4-space, unindented-sequence layout', () => {
    const text = [
      'subsets:',
      '    v1: {meta: {version: v1}}',
      '    v2: {meta: {version: v2}}',
      'routes:',
      '- name: default # the only route',
      '  to:',
      '  - {subset: v1, weight: 100}',
      '  - {subset: v2, weight: 0}',
      '',
    ].join('\n');
    const out = withCanaryWeight(findManagedRoutes(Buffer.from(text), 'k', 'v1', 'v2'), 'v1', 'v2', 5);
    expect(out.toString()).toBe(text.replace('weight: 100', 'weight: 95').replace('weight: 0', 'weight: 5'));
  });

  it('adds what a route lacks (a stable-only route gains the canary), comments kept, the same rules as the JSON edit', () => {
    const text = `# top
subsets:
  v1: { meta: { version: v1 } }
  v2: { meta: { version: v2 } }
routes:
  - name: api # sticky users
    match: { path: { prefix: /api } }
    stickyBy: { header: x-user-id }
    to:
      - subset: v1 # only stable so far
  - name: default
    to:
      - subset: v2 # canary listed first
        weight: 0
      - weight: 100
        subset: v1
`;
    const managed = findManagedRoutes(Buffer.from(text), 'k', 'v1', 'v2');
    const out = withCanaryWeight(managed, 'v1', 'v2', 20).toString();
    for (const comment of ['# top', '# sticky users', '# only stable so far', '# canary listed first'])
      expect(out).toContain(comment);
    // What the JSON path writes for the same document; the destinations in the operator's order
    // (the router lays them out by subset name, so their order means nothing).
    const json = findManagedRoutes(Buffer.from(JSON.stringify(managed.doc)), 'k', 'v1', 'v2');
    const expected = JSON.parse(withCanaryWeight(json, 'v1', 'v2', 20).toString());
    expected.routes[1].to.reverse();
    expect(parseRuleDocument(out)).toEqual(expected);
    expect(findManagedRoutes(Buffer.from(out), 'k', 'v1', 'v2').canaryWeight).toBe(20);
  });

  it('a JSON document stays JSON', () => {
    const out = withCanaryWeight(findManagedRoutes(raw, 'k', 'v1', 'v2'), 'v1', 'v2', 25).toString();
    expect(out.startsWith('{')).toBe(true);
    expect(JSON.parse(out).routes[3].to).toEqual([
      { subset: 'v1', weight: 75 },
      { subset: 'v2', weight: 25 },
    ]);
  });
});
