import { endpoint } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { meshClientOver } from '../client/test-support.ts';
import { PropagatedHeaders } from './propagated-headers.ts';

// A MeshClient with `propagate` (the mesh passes its PropagatedHeaders), over a scripted sender.
function setup(propagation: PropagatedHeaders | undefined) {
  const ids = ['a', 'b', 'c', 'd'];
  const endpoints = ids.map((id, i) => endpoint(id, { service: 'pricing', tags: i === 0 ? ['beta'] : [] }));
  const { client, sender, source } = meshClientOver('pricing', endpoints, {
    caller: 'catalog',
    seed: 7,
    propagation,
  });
  source.put('services/pricing/routes', {
    subsets: { beta: { tags: ['beta'] } },
    routes: [
      { name: 'beta', match: { headers: { 'x-user-group': { exact: 'beta' } } }, to: [{ subset: 'beta' }] },
    ],
  });
  return { client, sender, source };
}

describe('MeshClient with propagated headers', () => {
  it('routes and sends by a carried header, and a header the call sets wins', async () => {
    const propagation = new PropagatedHeaders(['x-user-group']);
    const { client, sender } = setup(propagation);
    await propagation.run({ 'x-user-group': 'beta', 'x-other': 'o' }, async () => {
      await client.fetch('/prices/1');
      await client.fetch('/prices/1', { headers: { 'X-User-Group': 'stable' } });
    });
    await client.fetch('/prices/1');
    expect(sender.sent[0]).toMatchObject({ endpoint: 'a' });
    expect(sender.sent[0]!.req.headers['x-user-group']).toBe('beta');
    expect(sender.sent[0]!.req.headers['x-other']).toBeUndefined();
    expect(sender.sent[1]!.req.headers['x-user-group']).toBe('stable');
    expect(sender.sent[2]!.req.headers['x-user-group']).toBeUndefined();
  });

  it('hashes a sticky route on a carried header', async () => {
    const propagation = new PropagatedHeaders(['x-user-id']);
    const { client, sender, source } = setup(propagation);
    source.put('services/pricing/balancer', { algorithm: 'ring-hash', hashOn: { header: 'x-user-id' } });
    for (let i = 0; i < 20; i++) {
      await propagation.run({ 'x-user-id': 'user-7' }, () => client.fetch('/prices/1'));
    }
    expect(new Set(sender.sent.map((s) => s.endpoint)).size).toBe(1);
    expect(sender.sent.every((s) => s.req.headers['x-user-id'] === 'user-7')).toBe(true);
    // Without the carried key the calls spread: the key above came from the served request.
    for (let i = 0; i < 20; i++) await client.fetch('/prices/1');
    expect(new Set(sender.sent.slice(20).map((s) => s.endpoint)).size).toBeGreaterThan(1);
  });

  it('adds nothing when the mesh names no header, inside a carried context too', async () => {
    const other = new PropagatedHeaders(['x-user-group']);
    const { client, sender } = setup(undefined);
    await other.run({ 'x-user-group': 'beta' }, () => client.fetch('/prices/1'));
    expect(sender.sent[0]!.req.headers['x-user-group']).toBeUndefined();
  });
});
