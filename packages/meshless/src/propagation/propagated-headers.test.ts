import { describe, expect, it } from 'vitest';
import { MAX_PROPAGATED_TOTAL, MAX_PROPAGATED_VALUE, PropagatedHeaders } from './propagated-headers.ts';

const record = (init: Record<string, string> = {}): Record<string, string> =>
  Object.assign(Object.create(null) as Record<string, string>, init);

describe('PropagatedHeaders', () => {
  it('adds the named headers of the request being served to a call, and only those', async () => {
    const p = new PropagatedHeaders(['X-User-Id', 'x-user-group', 'x-user-id']);
    expect(p.names).toEqual(['x-user-id', 'x-user-group']);
    const inbound = { 'x-user-id': 'u1', 'x-user-group': 'beta', authorization: 'Bearer s', cookie: 'c=1' };
    const sent = await p.run(inbound, async () => {
      await Promise.resolve();
      const headers = record({ accept: 'text/plain' });
      p.addTo(headers);
      return headers;
    });
    expect({ ...sent }).toEqual({ accept: 'text/plain', 'x-user-id': 'u1', 'x-user-group': 'beta' });
  });

  it('leaves a header the call sets itself, and adds nothing outside a served request', () => {
    const p = new PropagatedHeaders(['x-user-group']);
    const own = p.run({ 'x-user-group': 'beta' }, () => {
      const headers = record({ 'x-user-group': 'stable' });
      p.addTo(headers);
      return headers;
    });
    expect(own['x-user-group']).toBe('stable');
    const outside = record();
    p.addTo(outside);
    expect({ ...outside }).toEqual({});
  });

  it('never copies a name this mesh did not list, also when another mesh captured it', () => {
    const gateway = new PropagatedHeaders(['x-user-group', 'x-tenant']);
    const catalog = new PropagatedHeaders(['x-user-group']);
    const headers = gateway.run({ 'x-user-group': 'beta', 'x-tenant': 't1' }, () => {
      const h = record();
      catalog.addTo(h);
      return h;
    });
    expect({ ...headers }).toEqual({ 'x-user-group': 'beta' });
  });

  it('does not carry an outer request into a request without the header', () => {
    const p = new PropagatedHeaders(['x-user-group']);
    const inner = p.run({ 'x-user-group': 'beta' }, () =>
      p.run({}, () => {
        const h = record();
        p.addTo(h);
        return h;
      }),
    );
    expect({ ...inner }).toEqual({});
  });

  it('reads own properties only: a name like constructor is a header or nothing', () => {
    const p = new PropagatedHeaders(['constructor', 'x-user-id']);
    expect(p.capture({})).toEqual([]);
    expect(p.capture({ constructor: 'c' } as Record<string, string>)).toEqual(['constructor', 'c']);
    const plain: Record<string, string> = {};
    p.run({ constructor: 'c' } as Record<string, string>, () => p.addTo(plain));
    expect(Object.hasOwn(plain, 'constructor')).toBe(true);
  });

  it('bounds what one request carries: a value over 1 KiB is dropped, and what passes 4 KiB in all', () => {
    const names = Array.from({ length: 16 }, (_, i) => `x-h${i}`);
    const p = new PropagatedHeaders(names);
    expect(p.capture({ 'x-h0': 'v'.repeat(MAX_PROPAGATED_VALUE + 1), 'x-h1': 'ok' })).toEqual(['x-h1', 'ok']);
    expect(p.capture({ 'x-h0': ['a', 'b'] })).toEqual(['x-h0', 'a, b']);
    const full = Object.fromEntries(names.map((n) => [n, 'v'.repeat(MAX_PROPAGATED_VALUE)]));
    const carried = p.capture(full);
    let total = 0;
    for (const s of carried) total += s.length;
    expect(total).toBeLessThanOrEqual(MAX_PROPAGATED_TOTAL);
    expect(carried.filter((_, i) => i % 2 === 0)).toEqual(['x-h0', 'x-h1', 'x-h2']);
  });
});
