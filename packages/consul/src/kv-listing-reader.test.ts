import { describe, expect, it } from 'vitest';
import type { ConsulResponse } from './connection.ts';
import { KvListingReader } from './kv-listing-reader.ts';

type Kv = Record<string, [value: string | null, modifyIndex: number]>;

/** A `?recurse` answer as Consul sends it (base64 values, the other fields it adds). */
function listing(index: number, kv: Kv): ConsulResponse {
  const body = Object.entries(kv).map(([Key, [value, ModifyIndex]]) => ({
    LockIndex: 0,
    Key,
    Flags: 0,
    Value: value === null ? null : Buffer.from(value).toString('base64'),
    CreateIndex: 1,
    ModifyIndex,
  }));
  return { status: 200, index, body: Buffer.from(JSON.stringify(body)), header: () => undefined };
}

const text = (v: Uint8Array | null) => (v === null ? null : Buffer.from(v).toString('utf8'));

describe('KvListingReader', () => {
  it('hands on an unchanged key as the same entry, and decodes only the key that changed', () => {
    const reader = new KvListingReader();
    const first = reader.read(listing(10, { 'p/a': ['{"a":1}', 5], 'p/b': ['{"b":1}', 6] }));
    const second = reader.read(listing(11, { 'p/a': ['{"a":1}', 5], 'p/b': ['{"b":2}', 11] }));
    expect(second.index).toBe(11);
    expect(second.entries[0]).toBe(first.entries[0]);
    expect(second.entries[1]).not.toBe(first.entries[1]);
    expect(text(second.entries[1]!.value)).toBe('{"b":2}');
    expect(second.entries[1]!.modifyIndex).toBe(11);
  });

  it('a key changed and changed back gets the bytes of each version, never the stale ones', () => {
    const reader = new KvListingReader();
    const a1 = reader.read(listing(1, { 'p/a': ['one', 1] })).entries[0]!;
    const a2 = reader.read(listing(2, { 'p/a': ['two', 2] })).entries[0]!;
    const a3 = reader.read(listing(3, { 'p/a': ['one', 3] })).entries[0]!;
    expect([text(a1.value), text(a2.value), text(a3.value)]).toEqual(['one', 'two', 'one']);
    expect(a3).not.toBe(a1);
    expect(a3.modifyIndex).toBe(3);
  });

  it('a deleted key is forgotten: written again, it is read afresh', () => {
    const reader = new KvListingReader();
    const before = reader.read(listing(1, { 'p/a': ['x', 1], 'p/b': ['y', 2] })).entries[1]!;
    expect(reader.read(listing(2, { 'p/a': ['x', 1] })).entries.map((e) => e.key)).toEqual(['p/a']);
    const again = reader.read(listing(3, { 'p/a': ['x', 1], 'p/b': ['y', 3] })).entries[1]!;
    expect(again).not.toBe(before);
    expect(text(again.value)).toBe('y');
    // An empty prefix (404) forgets everything too.
    const a = reader.read(listing(4, { 'p/a': ['x', 1] })).entries[0]!;
    expect(
      reader.read({ status: 404, index: 5, body: Buffer.alloc(0), header: () => undefined }).entries,
    ).toEqual([]);
    const back = reader.read(listing(6, { 'p/a': ['x', 1] })).entries[0]!;
    expect(back).not.toBe(a);
    expect(text(back.value)).toBe('x');
  });

  it('an index that goes backwards (a Consul restarted empty) is a new entry, same bytes or not', () => {
    const reader = new KvListingReader();
    const old = reader.read(listing(900, { 'p/a': ['same', 800], 'p/b': ['old', 850] })).entries;
    const now = reader.read(listing(12, { 'p/a': ['same', 7], 'p/b': ['new', 8] })).entries;
    expect(now[0]).not.toBe(old[0]);
    expect(now[0]!.modifyIndex).toBe(7);
    expect(text(now[0]!.value)).toBe('same');
    expect(now[1]!.modifyIndex).toBe(8);
    expect(text(now[1]!.value)).toBe('new');
  });

  it('a key whose value text stays the same keeps its bytes under a new ModifyIndex', () => {
    const reader = new KvListingReader();
    const a = reader.read(listing(1, { 'p/a': ['v', 1] })).entries[0]!;
    const b = reader.read(listing(2, { 'p/a': ['v', 2] })).entries[0]!;
    expect(b).not.toBe(a);
    expect(b.modifyIndex).toBe(2);
    expect(b.value).toBe(a.value);
    // null values (folders, empty keys) stay null.
    expect(reader.read(listing(3, { 'p/f/': [null, 3] })).entries[0]!.value).toBeNull();
  });

  it('a body that is not a listing throws and leaves what was known in place', () => {
    const reader = new KvListingReader();
    const a = reader.read(listing(1, { 'p/a': ['v', 1] })).entries[0]!;
    const bad = (body: string): ConsulResponse => ({
      status: 200,
      index: 2,
      body: Buffer.from(body),
      header: () => undefined,
    });
    expect(() => reader.read(bad('{"Key":"p/a"}'))).toThrow('expected a JSON array');
    expect(() => reader.read(bad('[{"Key":"p/a","Value":5,"ModifyIndex":3}]'))).toThrow();
    expect(() => reader.read(bad('[{"Key":'))).toThrow();
    expect(reader.read(listing(3, { 'p/a': ['v', 1] })).entries[0]).toBe(a);
  });

  it('a listing that fails half-way leaves each key it knows consistent with its bytes', () => {
    const reader = new KvListingReader();
    reader.read(listing(1, { 'p/a': ['a1', 1], 'p/b': ['b1', 2] }));
    const half: ConsulResponse = {
      status: 200,
      index: 3,
      body: Buffer.from(
        JSON.stringify([
          { Key: 'p/a', Value: Buffer.from('a2').toString('base64'), ModifyIndex: 3 },
          { Key: 'p/b', Value: 7, ModifyIndex: 3 },
        ]),
      ),
      header: () => undefined,
    };
    expect(() => reader.read(half)).toThrow();
    const next = reader.read(listing(4, { 'p/a': ['a2', 3], 'p/b': ['b1', 2], 'p/c': ['c1', 4] })).entries;
    expect(next.map((e) => [e.key, text(e.value), e.modifyIndex])).toEqual([
      ['p/a', 'a2', 3],
      ['p/b', 'b1', 2],
      ['p/c', 'c1', 4],
    ]);
    expect(reader.read(listing(5, { 'p/a': ['a1', 5] })).entries.map((e) => text(e.value))).toEqual(['a1']);
  });

  it('textOf gives the base64 Consul sent for an entry of the last listing only', () => {
    const reader = new KvListingReader();
    const a = reader.read(listing(1, { 'p/a': ['one', 1] })).entries[0]!;
    expect(reader.textOf(a)).toBe(Buffer.from('one').toString('base64'));
    reader.read(listing(2, { 'p/a': ['two', 2] }));
    expect(reader.textOf(a)).toBeUndefined();
  });
});
