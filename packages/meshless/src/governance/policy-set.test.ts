import { BreakerRegistry } from '@meshless/breaker';
import { ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import type { BreakerLease } from './governance-ports.ts';
import { PolicySet } from './policy-set.ts';

function setup() {
  const clock = new ManualClock();
  const registry = new BreakerRegistry({ clock });
  const log: string[] = [];
  const breakers: BreakerLease = {
    acquire: (label, rule) => {
      log.push(`acquire ${label}`);
      registry.configure(label, rule);
      return registry.get(label);
    },
    configure: (label, rule) => {
      log.push(`configure ${label}`);
      registry.configure(label, rule);
    },
    release: (label) => {
      log.push(`release ${label}`);
      registry.remove(label);
    },
  };
  const set = new PolicySet({
    label: 'r',
    scope: 'local',
    clock,
    random: seededRandom(1),
    breakers,
    fallback: undefined,
  });
  return { set, log, registry };
}

describe('PolicySet', () => {
  it('reconfigures instances in place while their settings stay present', () => {
    const { set, log } = setup();
    set.apply({ timeoutMs: 100, retry: { attempts: 3, budget: {} }, bulkhead: {}, breaker: { volume: 5 } });
    const { timeout, retry, bulkhead, breaker } = set;
    set.apply({
      timeoutMs: 50,
      retry: { attempts: 2, budget: { percent: 50 } },
      bulkhead: { maxQueue: 1 },
      breaker: { volume: 9 },
    });
    expect(set.timeout).toBe(timeout);
    expect(set.timeout!.timeoutMs).toBe(50);
    expect(set.retry).toBe(retry);
    expect(set.retry!.current.attempts).toBe(2);
    expect(set.bulkhead).toBe(bulkhead);
    expect(set.bulkhead!.options).toEqual({ maxConcurrent: 100, maxQueue: 1 });
    expect(set.breaker).toBe(breaker);
    expect(set.breaker!.options.volume).toBe(9);
    expect(log).toEqual(['acquire r', 'configure r']);
  });

  it('keeps the retry budget and its window across a change', () => {
    const { set } = setup();
    set.apply({ retry: { attempts: 3, budget: { percent: 0, minPerSecond: 1 } } });
    const budget = set.retry!.current.budget!;
    // A reserve of 1 per second: one retry, then the budget is spent for a second.
    let taken = 0;
    while (budget.tryWithdraw()) taken++;
    expect(taken).toBe(1);
    set.apply({ retry: { attempts: 4, budget: { percent: 0, minPerSecond: 1 } } });
    expect(set.retry!.current.budget).toBe(budget);
    expect(budget.tryWithdraw()).toBe(false);
  });

  it('keeps one budget, with what was spent, when retry gives way to hedging', () => {
    const { set } = setup();
    set.apply({ retry: { attempts: 3, budget: { percent: 0, minPerSecond: 1 } } });
    const budget = set.retry!.current.budget!;
    expect(budget.tryWithdraw()).toBe(true);
    set.apply({ retry: { attempts: 3, budget: { percent: 0, minPerSecond: 1 } }, hedge: { delayMs: 5 } });
    expect(set.hedge!.current.budget).toBe(budget);
    expect(budget.tryWithdraw()).toBe(false);
  });

  it('drops what went away and releases the breaker', () => {
    const { set, log } = setup();
    set.apply({ timeoutMs: 100, breaker: {}, rateLimit: { perSecond: 5 } });
    set.apply({ rateLimit: { perSecond: 5 } });
    expect(set.timeout).toBeUndefined();
    expect(set.breaker).toBeUndefined();
    expect(set.layers(true).kinds).toEqual(['rateLimit']);
    expect(log).toEqual(['acquire r', 'release r']);
  });

  it('uses hedging instead of retry when both are set, with the retry budget', () => {
    const { set } = setup();
    set.apply({ retry: { attempts: 3, budget: { percent: 10 } }, hedge: { delayMs: 5 } });
    expect(set.retry).toBeUndefined();
    expect(set.hedge!.current.budget).toBe(set.budget);
    expect(set.budget).toBeDefined();
    expect(set.layers(true).kinds).toEqual(['hedge']);
    expect(set.layers(false).kinds).toEqual([]);
  });
});
