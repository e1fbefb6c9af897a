import { ClosedError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { BreakerRegistry } from './breaker-registry.ts';
import type { CircuitStateChange } from './circuit-breaker-policy.ts';

const boom = async () => {
  throw new Error('boom');
};

async function trip(registry: BreakerRegistry, resource: string, endpointId?: string): Promise<void> {
  const breaker = registry.get(resource, endpointId);
  for (let i = 0; i < breaker.options.volume; i++) await breaker.execute(boom).catch(() => {});
}

describe('BreakerRegistry', () => {
  it('creates breakers lazily, one per resource and per endpoint', () => {
    const registry = new BreakerRegistry({ clock: new ManualClock() });
    expect(registry.size).toBe(0);
    const whole = registry.get('catalog');
    const a = registry.get('catalog', '10.0.0.1:80');
    expect(registry.get('catalog')).toBe(whole);
    expect(registry.get('catalog', '10.0.0.1:80')).toBe(a);
    expect(registry.get('catalog', '10.0.0.2:80')).not.toBe(a);
    expect(a.resource).toBe('catalog');
    expect(a.endpointId).toBe('10.0.0.1:80');
    expect(registry.size).toBe(3);
    expect(registry.peek('orders')).toBeUndefined();
    expect(registry.size).toBe(3);
  });

  it('10,000 breakers share one timer, which stops on dispose', () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({ clock });
    for (let i = 0; i < 10_000; i++) registry.get('catalog', `ep-${i}`);
    expect(registry.size).toBe(10_000);
    expect(clock.pending).toBe(1);
    clock.advance(5000); // the one timer rearms itself
    expect(clock.pending).toBe(1);
    registry.dispose();
    expect(clock.pending).toBe(0);
    expect(() => registry.get('catalog')).toThrow(ClosedError);
  });

  it('a per-endpoint breaker checks its thresholds on every outcome, a success included', async () => {
    const registry = new BreakerRegistry({ clock: new ManualClock() });
    registry.configure('catalog', { volume: 20, errorPercent: 50 });
    const breaker = registry.get('catalog', '10.0.0.1:80');
    for (let i = 0; i < 10; i++) await breaker.execute(boom).catch(() => {});
    for (let i = 0; i < 10; i++) await breaker.execute(async () => 'ok');
    expect(breaker.state).toBe('open'); // 10 of 20 = 50 %, reached on a success
    expect(registry.get('catalog', '10.0.0.2:80').state).toBe('closed'); // its neighbour is apart
    registry.dispose();
  });

  it('runs no timer while it holds no breaker', () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({ clock });
    expect(clock.pending).toBe(0);
    registry.get('catalog', 'a');
    registry.get('catalog', 'b');
    expect(clock.pending).toBe(1);
    expect(registry.remove('catalog', 'a')).toBe(true);
    expect(registry.remove('catalog', 'a')).toBe(false);
    expect(clock.pending).toBe(1);
    expect(registry.retain('catalog', new Set())).toBe(1);
    expect(registry.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('rotates every window with the shared timer', async () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({ clock, bucketMs: 100, defaults: { windowMs: 1000, volume: 100 } });
    const a = registry.get('catalog', 'a');
    const b = registry.get('orders');
    await a.execute(boom).catch(() => {});
    await b.execute(boom).catch(() => {});
    clock.advance(900);
    expect(a.counts.failures).toBe(1);
    clock.advance(100);
    expect(a.counts.failures).toBe(0);
    expect(b.counts.failures).toBe(0);
  });

  it('keeps endpoint breakers independent', async () => {
    const registry = new BreakerRegistry({ clock: new ManualClock(), defaults: { volume: 2 } });
    await trip(registry, 'catalog', 'a');
    expect(registry.get('catalog', 'a').state).toBe('open');
    expect(registry.get('catalog', 'b').state).toBe('closed');
    expect(registry.snapshot()).toEqual([
      { resource: 'catalog', endpointId: 'a', state: 'open' },
      { resource: 'catalog', endpointId: 'b', state: 'closed' },
    ]);
  });

  it('reports the state changes of all its breakers', async () => {
    const registry = new BreakerRegistry({ clock: new ManualClock(), defaults: { volume: 2 } });
    const changes: CircuitStateChange[] = [];
    registry.onDidChangeState((c) => changes.push(c));
    await trip(registry, 'catalog', 'a');
    await trip(registry, 'orders');
    expect(changes).toEqual([
      { resource: 'catalog', endpointId: 'a', from: 'closed', to: 'open' },
      { resource: 'orders', endpointId: undefined, from: 'closed', to: 'open' },
    ]);
  });

  it('configure applies a rule live over the defaults; open breakers stay open', async () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({ clock, defaults: { volume: 2, openMs: 1000 } });
    await trip(registry, 'catalog', 'a');
    registry.configure('catalog', { openMs: 4000 });
    const a = registry.get('catalog', 'a');
    expect(a.state).toBe('open');
    expect(a.options).toMatchObject({ volume: 2, openMs: 4000 });
    expect(registry.get('catalog', 'new').options.openMs).toBe(4000);
    expect(registry.get('orders').options.openMs).toBe(1000);
    clock.advance(1000);
    expect(a.state).toBe('open');
    clock.advance(3000);
    expect(a.state).toBe('half-open');
    registry.configure('catalog', undefined);
    expect(a.options.openMs).toBe(1000);
  });

  it('setDefaults re-merges every resource rule, and a bad rule changes nothing', () => {
    const registry = new BreakerRegistry({ clock: new ManualClock() });
    registry.configure('catalog', { openMs: 4000 });
    const a = registry.get('catalog', 'a');
    const o = registry.get('orders');
    registry.setDefaults({ volume: 7 });
    expect(a.options).toMatchObject({ volume: 7, openMs: 4000 });
    expect(o.options).toMatchObject({ volume: 7, openMs: 5000 });
    expect(() => registry.configure('catalog', { errorPercent: 0 })).toThrow(/errorPercent/);
    expect(a.options.openMs).toBe(4000);
  });
});
