import { describe, expect, it } from 'vitest';
import {
  classifyEmptying,
  isEmptying,
  markerKey,
  ruleKeyOfStatus,
  shapeOf,
  splitListing,
  statusKeyFor,
} from './rule-listing.ts';

const rule = (key: string) => ({ key: `meshless/${key}`, value: new Uint8Array([123, 125]), modifyIndex: 1 });
const listing = (...keys: string[]) => splitListing(keys.map(rule), 'meshless');

describe('the governance prefix listing', () => {
  it('splits rules from the _status/ folder and finds the marker', () => {
    const l = listing('services/a/policies', '_status/marker', '_status/services/a/policies');
    expect(l.rules.map((r) => r.key)).toEqual(['meshless/services/a/policies']);
    expect([...l.status.keys()]).toEqual(['meshless/_status/marker', 'meshless/_status/services/a/policies']);
    expect(l.marker).toBe(true);
    expect(statusKeyFor('meshless', 'meshless/services/a/policies')).toBe(
      'meshless/_status/services/a/policies',
    );
    expect(ruleKeyOfStatus('meshless', 'meshless/_status/services/a/policies')).toBe(
      'meshless/services/a/policies',
    );
    expect(ruleKeyOfStatus('meshless', markerKey('meshless'))).toBeUndefined();
  });

  it('judges an emptied listing: denied on 403, applied with the marker or after one rule, held otherwise', () => {
    const two = shapeOf(listing('services/a/policies', 'services/b/policies'));
    const oneWithMarker = shapeOf(listing('services/a/policies', '_status/marker'));
    const one = shapeOf(listing('services/a/policies'));
    const empty = listing();
    expect(isEmptying(two, empty)).toBe(true);
    expect(isEmptying(two, listing('services/a/policies'))).toBe(false);
    expect(isEmptying(undefined, empty)).toBe(false);
    expect(classifyEmptying(two, empty, 403)).toBe('denied');
    expect(classifyEmptying(one, empty, 403)).toBe('denied');
    expect(classifyEmptying(two, empty, 404)).toBe('empty');
    expect(classifyEmptying(two, empty, undefined)).toBe('empty');
    expect(classifyEmptying(oneWithMarker, empty, 404)).toBe('empty');
    expect(classifyEmptying(two, listing('_status/marker'), 404)).toBe('apply');
    expect(classifyEmptying(one, empty, 404)).toBe('apply');
  });
});
