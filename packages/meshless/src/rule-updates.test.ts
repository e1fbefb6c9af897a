import type { RuleSnapshot } from '@meshless/core';
import { FakeRuleSource } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { RuleUpdates } from './rule-updates.ts';

/** A fake source (ConsulRuleSource's snapshot is a getter) and a store that records what it applies. */
function setup() {
  const fake = new FakeRuleSource('meshless');
  const source = {
    subscribe: (listener: (snapshot: RuleSnapshot) => void) => fake.subscribe(listener),
    get snapshot() {
      return fake.snapshot();
    },
  };
  const applied: number[] = [];
  const updates = new RuleUpdates(source, { applySnapshot: (s) => applied.push(s.index) });
  return { fake, updates, applied };
}

describe('RuleUpdates', () => {
  it('applies each snapshot the source delivers', () => {
    const { fake, applied } = setup();
    fake.put('services/catalog/retry', { attempts: 2 });
    fake.put('services/catalog/retry', { attempts: 3 });
    expect(applied).toEqual([1, 2]);
  });

  it('holds the rules while paused, then applies only the latest snapshot at once', () => {
    const { fake, updates, applied } = setup();
    fake.put('services/catalog/retry', { attempts: 2 });
    const paused = updates.pause();
    fake.put('services/catalog/retry', { attempts: 3 });
    fake.delete('services/catalog/retry');
    expect(applied).toEqual([1]);
    paused.dispose();
    expect(applied).toEqual([1, 3]);
    fake.put('services/catalog/retry', { attempts: 4 });
    expect(applied).toEqual([1, 3, 4]);
  });

  it('applies nothing once disposed', () => {
    const { fake, updates, applied } = setup();
    updates.dispose();
    fake.put('services/catalog/retry', { attempts: 2 });
    expect(applied).toEqual([]);
  });
});
