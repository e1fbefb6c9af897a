import { describe, expect, it } from 'vitest';
import { mergeSettings, resourceLabel, sameSettings, settingsLayers } from './merge-settings.ts';

describe('mergeSettings', () => {
  it('merges nested objects key by key, later layers winning; arrays and values replace', () => {
    const merged = mergeSettings([
      { timeoutMs: 500, retry: { attempts: 2, on: ['503'], backoff: { baseMs: 10 } } },
      undefined,
      { retry: { on: ['timeout'], backoff: { maxMs: 300 } } },
      { timeoutMs: 200 },
    ]);
    expect(merged).toEqual({
      timeoutMs: 200,
      retry: { attempts: 2, on: ['timeout'], backoff: { baseMs: 10, maxMs: 300 } },
    });
    expect(Object.isFrozen(merged.retry!.backoff)).toBe(true);
  });

  it('leaves its inputs untouched', () => {
    const code = { retry: { backoff: { baseMs: 10 } } };
    mergeSettings([code, { retry: { backoff: { maxMs: 20 } } }]);
    expect(code).toEqual({ retry: { backoff: { baseMs: 10 } } });
  });
});

describe('settingsLayers', () => {
  const defaults = { timeoutMs: 400, methods: { getItem: { timeoutMs: 1 } } };
  const document = { timeoutMs: 300, methods: { getItem: { timeoutMs: 200 } } };

  it('orders code < defaults < document < method override for a service method', () => {
    const layers = settingsLayers({ timeoutMs: 500 }, { defaults, document }, 'getItem');
    expect(layers).toEqual([{ timeoutMs: 500 }, { timeoutMs: 400 }, { timeoutMs: 300 }, { timeoutMs: 200 }]);
  });

  it('reads no method override without an operation (a resource)', () => {
    const layers = settingsLayers({}, { defaults, document });
    expect(mergeSettings(layers)).toEqual({ timeoutMs: 300 });
  });
});

describe('resourceLabel / sameSettings', () => {
  it('names a resource by its name', () => {
    expect(resourceLabel({ kind: 'resource', name: 'catalog.getItem' })).toBe('catalog.getItem');
  });

  it('compares settings by content, not key order', () => {
    expect(sameSettings({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameSettings({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameSettings({ b: { c: [1] } }, { b: { c: [2] } })).toBe(false);
  });
});

describe('settingsLayers: `methods.<name>` is an own key', () => {
  it('finds no override for an operation named `constructor` unless the document has one', () => {
    expect(
      settingsLayers({}, { defaults: undefined, document: { methods: {} } }, 'constructor')[3],
    ).toBeUndefined();
    const own = { methods: { constructor: { timeoutMs: 5 } } };
    expect(settingsLayers({}, { defaults: undefined, document: own }, 'constructor')[3]).toEqual({
      timeoutMs: 5,
    });
  });
});
