import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RuleError } from './errors.ts';
import { consoleLogger } from './logger.ts';
import { defineSection } from './rule-section.ts';
import { type RuleChange, RuleStore } from './rule-store.ts';
import { FakeRuleSource } from './testing/fake-rule-source.ts';
import { ManualClock } from './testing/manual-clock.ts';

const policies = defineSection({
  kind: 'policies',
  pattern: 'services/*/policies',
  description: 'test',
  schema: z.strictObject({
    timeoutMs: z.number().int().positive().optional(),
    retry: z.strictObject({ attempts: z.number().int().min(1).max(10) }).optional(),
  }),
});
const defaults = defineSection({
  kind: 'defaults',
  pattern: 'defaults/policies',
  description: 'test',
  schema: z.strictObject({ timeoutMs: z.number().int().positive().optional() }),
});

function setup() {
  const source = new FakeRuleSource('meshless');
  const lines: string[] = [];
  const store = new RuleStore({
    prefix: 'meshless',
    sections: [policies, defaults],
    clock: new ManualClock(),
    logger: consoleLogger('warn', (l) => lines.push(l)),
  });
  const changes: RuleChange[] = [];
  const rejects: RuleError[] = [];
  store.onDidChange((c) => changes.push(c));
  store.onDidReject((e) => rejects.push(e));
  source.subscribe((s) => store.applySnapshot(s));
  return { source, store, changes, rejects, lines };
}

describe('RuleStore', () => {
  it('applies a valid document and reports its ModifyIndex', () => {
    const { source, store, changes } = setup();
    const index = source.put('services/catalog/policies', { timeoutMs: 250 });
    expect(store.get(policies, 'catalog')).toEqual({ timeoutMs: 250 });
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      name: 'catalog',
      value: { timeoutMs: 250 },
      previous: undefined,
      index,
    });
    const status = store.status().keys[0]!;
    expect(status).toMatchObject({
      key: 'meshless/services/catalog/policies',
      kind: 'policies',
      state: 'applied',
    });
    expect(status.appliedIndex).toBe(index);
  });

  it('accepts YAML and ignores $schema', () => {
    const { source, store } = setup();
    source.put(
      'services/catalog/policies',
      '$schema: ./policies.json\ntimeoutMs: 300\nretry:\n  attempts: 2\n',
    );
    expect(store.get(policies, 'catalog')).toEqual({ timeoutMs: 300, retry: { attempts: 2 } });
  });

  it('keeps the last good document when a schema violation arrives, naming the field path', () => {
    const { source, store, rejects, lines } = setup();
    const good = source.put('services/catalog/policies', { timeoutMs: 250 });
    const bad = source.put('services/catalog/policies', { timeoutMs: 250, retry: { attempts: 0 } });
    expect(store.get(policies, 'catalog')).toEqual({ timeoutMs: 250 });
    expect(rejects).toHaveLength(1);
    expect(rejects[0]!.path).toBe('retry.attempts');
    expect(rejects[0]!.key).toBe('meshless/services/catalog/policies');
    expect(rejects[0]!.message).toMatch(/^retry\.attempts: /);
    const status = store.status();
    expect(status.keys[0]).toMatchObject({ state: 'rejected', appliedIndex: good, rejections: 1 });
    expect(status.keys[0]!.rejection).toMatchObject({
      path: 'retry.attempts',
      index: bad,
      code: 'MESHLESS_RULE_INVALID',
    });
    expect(status.rejectedTotal).toBe(1);
    expect(lines.join('\n')).toMatch(
      /rule rejected.*key=meshless\/services\/catalog\/policies.*path=retry\.attempts/,
    );
  });

  it.each([
    ['invalid JSON', '{"timeoutMs": 25', /invalid JSON/],
    ['invalid YAML', 'timeoutMs: [1, 2\n  x: }', /invalid YAML/],
    ['binary garbage', new Uint8Array([0xff, 0xfe, 0x00, 0x81, 0x80]), /not UTF-8/],
    ['NUL bytes', 'timeoutMs: 1\u0000', /NUL/],
    ['a scalar', '"just a string"', /expected object/],
    ['an unknown field', '{"timeoutMS": 5}', /unknown field "timeoutMS" \(did you mean "timeoutMs"\?\)/],
    ['an empty value', '   ', /empty/],
    ['a document over 512 KiB', new Uint8Array(512 * 1024 + 1).fill(0x20), /over the 524288-byte limit/],
  ])('rejects %s and keeps the good document', (_name, value, message) => {
    const { source, store, rejects } = setup();
    source.put('services/catalog/policies', { timeoutMs: 100 });
    source.put('services/catalog/policies', value);
    expect(store.get(policies, 'catalog')).toEqual({ timeoutMs: 100 });
    expect(rejects).toHaveLength(1);
    expect(rejects[0]!.message).toMatch(message);
    expect(RuleError.isInstance(rejects[0])).toBe(true);
  });

  it('rejects a large document that parses but fails the schema', () => {
    const { source, store, rejects } = setup();
    source.put('services/catalog/policies', { timeoutMs: 100 });
    source.put('services/catalog/policies', { timeoutMs: 100, padding: 'x'.repeat(500 * 1024) });
    expect(store.get(policies, 'catalog')).toEqual({ timeoutMs: 100 });
    expect(rejects[0]!.message).toMatch(/unknown field "padding"/);
  });

  it('rejects a key outside the layout with a typed error and counts it', () => {
    const { source, store, rejects } = setup();
    source.put('services/catalog/unknown-kind', { a: 1 });
    expect(rejects[0]!.code).toBe('MESHLESS_RULE_UNKNOWN_KEY');
    expect(store.status().rejectedTotal).toBe(1);
    expect(rejects[0]!.message).not.toMatch(/did you mean/);
    source.put('services/catalog/polices', { timeoutMs: 1 });
    expect(rejects[1]!.message).toMatch(
      /^key is outside the layout \(did you mean services\/catalog\/policies\?/,
    );
  });

  it('reverts to defaults when a key is deleted', () => {
    const { source, store, changes } = setup();
    source.put('services/catalog/policies', { timeoutMs: 250 });
    source.delete('services/catalog/policies');
    expect(store.get(policies, 'catalog')).toBeUndefined();
    expect(changes.at(-1)).toMatchObject({ value: undefined, previous: { timeoutMs: 250 } });
    expect(store.status().keys).toHaveLength(0);
  });

  it('does not re-apply a key whose ModifyIndex did not change', () => {
    const { source, store, changes } = setup();
    source.put('services/catalog/policies', { timeoutMs: 250 });
    source.put('defaults/policies', { timeoutMs: 1000 });
    expect(changes).toHaveLength(2);
    store.applySnapshot(source.snapshot());
    expect(changes).toHaveLength(2);
  });

  it('hands out frozen documents so consumers cannot change the rule in force', () => {
    const { source, store } = setup();
    source.put('services/catalog/policies', { retry: { attempts: 2 } });
    const value = store.get(policies, 'catalog')!;
    expect(Object.isFrozen(value.retry)).toBe(true);
  });

  it('isolates a throwing listener from the store and other listeners', () => {
    const { source, store } = setup();
    const seen: number[] = [];
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      store.onDidChange(() => {
        throw new Error('listener bug');
      });
      store.onDidChange((c) => seen.push(c.index));
      source.put('defaults/policies', { timeoutMs: 5 });
    } finally {
      console.error = original;
    }
    expect(seen).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(store.get(defaults)).toEqual({ timeoutMs: 5 });
  });
});

describe('RuleStore across a Consul that lost its data', () => {
  it('applies a new value that arrives under an index it has seen before', () => {
    const store = new RuleStore({ prefix: 'meshless', sections: [policies] });
    const key = 'meshless/services/catalog/policies';
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    store.applySnapshot({
      index: 12,
      origin: 'source',
      entries: [{ key, value: enc({ timeoutMs: 1 }), modifyIndex: 12 }],
    });
    store.applySnapshot({
      index: 12,
      origin: 'source',
      entries: [{ key, value: enc({ timeoutMs: 2 }), modifyIndex: 12 }],
    });
    expect(store.get(policies, 'catalog')).toEqual({ timeoutMs: 2 });
  });

  it('records a new index for the same bytes without a change event', () => {
    const store = new RuleStore({ prefix: 'meshless', sections: [policies] });
    const changes: unknown[] = [];
    store.onDidChange((c) => changes.push(c));
    const key = 'meshless/services/catalog/policies';
    const value = new TextEncoder().encode('{"timeoutMs": 5}');
    store.applySnapshot({ index: 3, origin: 'source', entries: [{ key, value, modifyIndex: 3 }] });
    store.applySnapshot({
      index: 9,
      origin: 'source',
      entries: [{ key, value: value.slice(), modifyIndex: 9 }],
    });
    expect(changes).toHaveLength(1);
    expect(store.status().keys[0]!.appliedIndex).toBe(9);
  });
});

describe('RuleStore status() and unchanged entries', () => {
  const raw = (key: string, text: string, modifyIndex: number) => ({
    key: `meshless/${key}`,
    value: Buffer.from(text),
    modifyIndex,
  });

  it('hands out the same frozen status until a key, its index, the index or the origin changes', () => {
    const store = new RuleStore({
      prefix: 'meshless',
      sections: [policies, defaults],
      clock: new ManualClock(),
    });
    const a = raw('services/a/policies', '{"timeoutMs":1}', 5);
    const b = raw('defaults/policies', '{"timeoutMs":2}', 6);
    store.applySnapshot({ index: 10, origin: 'source', entries: [a, b] });
    const first = store.status();
    expect(Object.isFrozen(first) && Object.isFrozen(first.keys) && Object.isFrozen(first.keys[0])).toBe(
      true,
    );
    // The same entry objects again (a source that reuses unchanged ones), same index: nothing new.
    store.applySnapshot({ index: 10, origin: 'source', entries: [a, b] });
    expect(store.status()).toBe(first);
    // A new listing index alone: a new status, each key's part kept.
    store.applySnapshot({ index: 11, origin: 'source', entries: [a, b] });
    const second = store.status();
    expect(second).not.toBe(first);
    expect(second.index).toBe(11);
    expect(second.keys[0]).toBe(first.keys[0]);
    // Same bytes under a new ModifyIndex (a re-write): that key's appliedIndex follows.
    store.applySnapshot({ index: 12, origin: 'source', entries: [a, { ...b, modifyIndex: 12 }] });
    expect(store.status().keys.map((k) => [k.key, k.appliedIndex])).toEqual([
      ['meshless/defaults/policies', 12],
      ['meshless/services/a/policies', 5],
    ]);
    // The origin alone.
    store.applySnapshot({ index: 12, origin: 'cache', entries: [a, { ...b, modifyIndex: 12 }] });
    expect(store.status().origin).toBe('cache');
  });

  it('a key changed back and forth, rejected, deleted and added again shows each state in status()', () => {
    const store = new RuleStore({ prefix: 'meshless', sections: [policies], clock: new ManualClock() });
    const changes: unknown[] = [];
    store.onDidChange((c) => changes.push(c.value));
    const snap = (index: number, ...entries: ReturnType<typeof raw>[]) =>
      store.applySnapshot({ index, origin: 'source', entries });
    const one = raw('services/a/policies', '{"timeoutMs":1}', 2);
    snap(2, one);
    snap(3, raw('services/a/policies', '{"timeoutMs":9}', 3));
    snap(4, raw('services/a/policies', '{"timeoutMs":1}', 4));
    expect(store.get(policies, 'a')).toEqual({ timeoutMs: 1 });
    expect(store.status().keys[0]).toMatchObject({ appliedIndex: 4, state: 'applied' });
    snap(5, raw('services/a/policies', '{"timeoutMs":"x"}', 5));
    expect(store.status().keys[0]).toMatchObject({ appliedIndex: 4, state: 'rejected', rejections: 1 });
    expect(store.get(policies, 'a')).toEqual({ timeoutMs: 1 }); // the bad one did not replace the good one
    snap(6);
    expect(store.status().keys).toEqual([]);
    expect(store.get(policies, 'a')).toBeUndefined();
    snap(7, one); // the very entry object of before, after its deletion
    expect(store.get(policies, 'a')).toEqual({ timeoutMs: 1 });
    expect(store.status().keys[0]).toMatchObject({ appliedIndex: 2, state: 'applied', rejections: 0 });
    expect(changes).toEqual([
      { timeoutMs: 1 },
      { timeoutMs: 9 },
      { timeoutMs: 1 },
      undefined,
      { timeoutMs: 1 },
    ]);
  });

  it('status() read by a listener during a snapshot is not kept past the rest of it', () => {
    const store = new RuleStore({ prefix: 'meshless', sections: [policies], clock: new ManualClock() });
    const seen: number[] = [];
    store.onDidChange(() => seen.push(store.status().keys.length));
    store.applySnapshot({
      index: 3,
      origin: 'source',
      entries: [raw('services/a/policies', '{}', 1), raw('services/b/policies', '{}', 2)],
    });
    expect(seen).toEqual([1, 2]);
    expect(store.status()).toMatchObject({ index: 3, keys: [{ name: 'a' }, { name: 'b' }] });
  });
});
