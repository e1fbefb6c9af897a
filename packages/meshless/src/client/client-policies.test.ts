import { describe, expect, it } from 'vitest';
import { clientSetup } from './test-support.ts';

describe('ServicePolicies', () => {
  it('merges method override > service document > defaults/policies > code values, field by field', () => {
    const { source, policies } = clientSetup();
    source.put('defaults/policies', { timeoutMs: 400, retry: { attempts: 2, backoff: { maxMs: 300 } } });
    expect(policies.settings('getItem')).toEqual({
      timeoutMs: 400,
      retry: { attempts: 2, backoff: { maxMs: 300 } },
    });
    source.put('services/catalog/policies', {
      timeoutMs: 300,
      retry: { attempts: 4 },
      methods: { getItem: { timeoutMs: 200 } },
    });
    expect(policies.settings('getItem')).toEqual({
      timeoutMs: 200,
      retry: { attempts: 4, backoff: { maxMs: 300 } },
    });
    // Another operation gets the service document, not getItem's override.
    expect(policies.settings('list')).toEqual({
      timeoutMs: 300,
      retry: { attempts: 4, backoff: { maxMs: 300 } },
    });
    expect(policies.forCall('getItem').timeoutMs).toBe(200);
    // Deleting documents falls back layer by layer.
    source.delete('services/catalog/policies');
    expect(policies.settings('getItem').timeoutMs).toBe(400);
  });

  it('reconfigures the policies in place on a rule change (a retry budget keeps its state)', () => {
    const { source, policies } = clientSetup();
    source.put('services/catalog/policies', { retry: { attempts: 3, budget: {} } });
    const before = policies.forCall(undefined);
    const full = before.full;
    source.put('services/catalog/policies', { retry: { attempts: 2, budget: {} } });
    expect(policies.forCall(undefined)).toBe(before);
    expect(before.full).toBe(full);
  });

  it('builds a stack of its own for a route with its own timeout, and drops it when the route goes', () => {
    const { source, policies, putRoutes, groups } = clientSetup();
    source.put('services/catalog/policies', { timeoutMs: 800 });
    putRoutes({ routes: [{ name: 'slow', timeoutMs: 2000 }] });
    const route = groups.table.routes[0]!;
    expect(policies.forCall(undefined, route).timeouts?.timeoutMs).toBe(2000);
    expect(policies.forCall(undefined).timeouts?.timeoutMs).toBe(800);
  });

  it('configures per-endpoint breakers only while a breaker rule is in force', () => {
    const { source, policies, groups } = clientSetup();
    const a = groups.all[0]!;
    expect(policies.breaker(a)).toBeUndefined();
    source.put('services/catalog/policies', { breaker: { volume: 5 } });
    expect(policies.breaker(a)?.state).toBe('closed');
    source.delete('services/catalog/policies');
    expect(policies.breaker(a)).toBeUndefined();
  });

  it('keeps one stack per (route, operation): alternating operations on a route with its own retry reuse theirs', () => {
    const { source, policies, putRoutes, groups } = clientSetup();
    source.put('services/catalog/policies', {
      retry: { budget: {} },
      methods: { getItem: { timeoutMs: 100 } },
    });
    putRoutes({ routes: [{ name: 'twice', retry: { attempts: 2 } }] });
    const route = groups.table.routes[0]!;
    const forGetItem = policies.forCall('getItem', route);
    const forOthers = policies.forCall(undefined, route);
    expect(forGetItem).not.toBe(forOthers);
    expect(policies.forCall(undefined, route)).toBe(forOthers);
    expect(policies.forCall('getItem', route)).toBe(forGetItem);
    expect(policies.forCall('list', route)).toBe(forOthers);
    expect(forGetItem.timeoutMs).toBe(100);
  });
});
