import { routesSection } from '@meshless/canary';
import { RuleStore } from '@meshless/core';
import { endpoint, FakeRuleSource, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { builtinSections } from '../rules/index.ts';
import { EndpointGroups } from './endpoint-groups.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function setup() {
  const clock = new ManualClock();
  const source = new FakeRuleSource('meshless');
  const rules = new RuleStore({ prefix: 'meshless', sections: builtinSections, clock });
  source.subscribe((snapshot) => rules.applySnapshot(snapshot));
  const ejected: string[] = [];
  const groups = new EndpointGroups({
    service: 'catalog',
    now: clock.now,
    random: seededRandom(2),
    logger: silent,
    onEject: (e) => ejected.push(e.endpoint.id),
  });
  const routes = (doc: unknown) => {
    source.put('services/catalog/routes', doc);
    groups.setRoutes(rules.get(routesSection, 'catalog'));
  };
  return { clock, groups, routes, ejected };
}

const v1 = endpoint('a', { service: 'catalog', tags: ['v1'] });
const v2 = endpoint('b', { service: 'catalog', tags: ['v2'] });
const canary = {
  subsets: { v1: { tags: ['v1'] }, v2: { tags: ['v2'] } },
  routes: [{ to: [{ subset: 'v2', weight: 100 }] }],
};

describe('EndpointGroups', () => {
  it('gives each subset the routes rule names a balancer over its endpoints, and one over all', () => {
    const { groups, routes } = setup();
    groups.setEndpoints([v1, v2]);
    routes(canary);
    expect(groups.balancer('v2')!.picker.pick()?.id).toBe('b');
    expect(groups.balancer('v1')!.picker.pick()?.id).toBe('a');
    expect(groups.balancer(undefined)!.picker.pick()).toBeDefined();
    expect(groups.balancer('v3')).toBeUndefined();
    expect(groups.empty).toEqual([]);
  });

  it('reports subsets with no endpoint, and the table routes around them', () => {
    const { groups, routes } = setup();
    groups.setEndpoints([v1]);
    routes(canary);
    expect(groups.empty).toEqual(['v2']);
    expect(
      groups.table.route({ method: 'GET', path: '/', header: () => undefined }, seededRandom(1)).available,
    ).toBe(false);
    groups.setEndpoints([v1, v2]);
    expect(groups.empty).toEqual([]);
    expect(
      groups.table.route({ method: 'GET', path: '/', header: () => undefined }, seededRandom(1)),
    ).toMatchObject({
      subset: 'v2',
      available: true,
    });
  });

  it("keeps a subset's balancer (and what it learned) across membership changes", () => {
    const { groups, routes } = setup();
    groups.setEndpoints([v1, v2]);
    routes(canary);
    const before = groups.balancer('v2');
    groups.setEndpoints([v1, v2, endpoint('c', { service: 'catalog', tags: ['v2'] })]);
    expect(groups.balancer('v2')).toBe(before);
  });

  it('on a membership change rebuilds only the subsets it touched, and names the changed endpoints', () => {
    const { groups, routes } = setup();
    const v1b = endpoint('c', { service: 'catalog', tags: ['v1'] });
    groups.setEndpoints([v1, v2, v1b]);
    routes(canary);
    const v2Picker = groups.balancer('v2')!.picker;
    const v1Picker = groups.balancer('v1')!.picker;
    // One v1 endpoint changes: the v2 balancer keeps its picker, the v1 one gets a new one.
    const v1bMoved = endpoint('c', { service: 'catalog', tags: ['v1'], port: 9999 });
    expect(groups.setEndpoints([v1, v2, v1bMoved])).toEqual([v1bMoved]);
    expect(groups.balancer('v2')!.picker).toBe(v2Picker);
    expect(groups.balancer('v1')!.picker).not.toBe(v1Picker);
    const ports = new Set(Array.from({ length: 50 }, () => groups.balancer('v1')!.picker.pick()!.port));
    expect(ports).toEqual(new Set([8000, 9999]));
    // An endpoint that leaves its subset for the other is moved; an unsorted list is rebuilt in full.
    const c2 = endpoint('c', { service: 'catalog', tags: ['v2'] });
    expect(groups.setEndpoints([v1, v2, c2])).toEqual([c2]);
    expect(new Set(Array.from({ length: 50 }, () => groups.balancer('v2')!.picker.pick()!.id))).toEqual(
      new Set(['b', 'c']),
    );
    expect(groups.setEndpoints([v2, v1])).toBeUndefined();
    expect(groups.balancer('v1')!.picker.pick()!.id).toBe('a');
    expect(groups.empty).toEqual([]);
  });

  it('tells of outlier ejections in any group', () => {
    const { groups, ejected } = setup();
    groups.setEndpoints([v1, v2]);
    const all = groups.balancer(undefined)!;
    for (let i = 0; i < 5; i++) all.onCallEnd(v1, { latencyMs: 1, ok: false, failure: 'connect' });
    expect(ejected).toContain('a');
  });
});
