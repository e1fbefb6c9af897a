import { CALLER_HEADER } from '@meshless/core';
import { endpoint } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { answer, meshClientOver } from './test-support.ts';

function setup(
  initial = [endpoint('a', { service: 'catalog' }), endpoint('b', { service: 'catalog', tags: ['v2'] })],
) {
  return meshClientOver('catalog', initial, { caller: 'frontend', seed: 5 });
}

describe('MeshClient', () => {
  it('runs a call through every stage: routed, named, sent, observed', async () => {
    const { client, sender, observer, source } = setup();
    source.put('services/catalog/routes', {
      subsets: { v2: { tags: ['v2'] } },
      routes: [
        {
          name: 'beta',
          match: { headers: { 'x-beta': { exact: '1' } } },
          to: [{ subset: 'v2', weight: 100 }],
        },
      ],
    });
    const response = await client.fetch('http://catalog/items/7?x=1', { headers: { 'X-Beta': '1' } });
    expect(response.status).toBe(200);
    expect(sender.sent).toHaveLength(1);
    expect(sender.sent[0]).toMatchObject({ endpoint: 'b', req: { method: 'GET', path: '/items/7?x=1' } });
    expect(sender.sent[0]!.req.headers[CALLER_HEADER]).toBe('frontend');
    expect(observer.events).toEqual([
      'call GET /items/7?x=1 route=beta subset=v2',
      'attempt 1 first b',
      'attempt 1 end 200',
      'end 200',
    ]);
    expect(client.inFlight).toBe(0);
  });

  it('retries a GET on another endpoint under a retry rule, and never a POST', async () => {
    const { client, sender, source } = setup();
    source.put('services/catalog/policies', {
      retry: { attempts: 2, on: ['503'], backoff: { baseMs: 0, maxMs: 0 } },
    });
    sender.script = () => answer(503);
    expect((await client.fetch('/items/1')).status).toBe(503);
    expect(new Set(sender.sent.map((x) => x.endpoint)).size).toBe(2);
    sender.sent.length = 0;
    expect((await client.fetch('/items/1', { method: 'post', body: 'x' })).status).toBe(503);
    expect(sender.sent).toHaveLength(1);
  });

  it('gives an endpoint that joins or changes its breaker, so an open one is avoided', async () => {
    const { client, resolver, sender, source } = setup([endpoint('a', { service: 'catalog' })]);
    // Round robin: only the breaker keeps calls off b (P2C would learn to avoid it by itself).
    source.put('services/catalog/balancer', { algorithm: 'round-robin' });
    source.put('services/catalog/policies', {
      breaker: { volume: 1, errorPercent: 50, windowMs: 10_000, openMs: 60_000 },
    });
    // b joins; its calls fail until its breaker opens; then every call goes to a.
    await resolver.set([endpoint('a', { service: 'catalog' }), endpoint('b', { service: 'catalog' })]);
    sender.script = (ep) => answer(ep.id === 'b' ? 503 : 200);
    for (let i = 0; i < 20; i++) await client.fetch('/items/1');
    sender.sent.length = 0;
    for (let i = 0; i < 20; i++) await client.fetch('/items/1');
    expect(sender.sent.map((x) => x.endpoint)).toEqual(Array(20).fill('a'));
  });

  it('follows membership changes, and reports endpoints and calls in flight', async () => {
    const { client, resolver } = setup();
    expect(client.status()).toMatchObject({ service: 'catalog', endpoints: 2, inFlight: 0, ejected: [] });
    await resolver.set([endpoint('c', { service: 'catalog' })]);
    expect(client.status().endpoints).toBe(1);
    client.dispose();
  });
});
