// Runs the compiled fixture on plain Node and prints what happened as JSON (one line), for
// decorators.test.ts to assert on. Everything waits on the fixture's ManualClock.
import { RuleStore } from '@meshless/core';
import { FakeRuleSource } from '@meshless/core/testing';
import { setLocalGovernor } from '../../packages/meshless/src/decorators/index.ts';
import { Governor } from '../../packages/meshless/src/governance/index.ts';
import { builtinSections } from '../../packages/meshless/src/rules/index.ts';
import { clock, governedInventory, Inventory } from './fixture.ts';

setLocalGovernor(new Governor({ rules: new RuleStore({ prefix: 'local', sections: [] }), clock }));

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Outcome {
  value?: unknown;
  error?: { name: string; code?: string; message: string; resource?: string; stack?: string };
}

/** Settles `p` while moving the manual clock forward `ms` in 1 ms steps. */
async function settle(p: Promise<unknown>, ms: number): Promise<Outcome> {
  let outcome: Outcome | undefined;
  p.then(
    (value) => {
      outcome = { value };
    },
    (e: unknown) => {
      const error = e as Error & { code?: string; resource?: string };
      outcome = {
        error: {
          name: error.name,
          code: error.code,
          message: error.message,
          resource: error.resource,
          stack: error.stack,
        },
      };
    },
  );
  for (let t = 0; t <= ms && outcome === undefined; t++) {
    await flush();
    if (outcome === undefined) clock.advance(1);
  }
  await flush();
  return outcome ?? { value: 'pending' };
}

const results: Record<string, unknown> = {};
const inv = new Inventory('inv-1');

results.names = [
  Inventory.prototype.slow.name,
  Inventory.prototype.flaky.name,
  Inventory.prototype.hangA.name,
];
results.slowFast = await settle(inv.slow(10), 100);
results.slowTimeout = await settle(inv.slow(80), 100);

inv.calls = 0;
results.flakyRecovers = await settle(inv.flaky(2), 10);
results.flakyCalls = inv.calls;
inv.calls = 0;
results.flakyGivesUp = await settle(inv.flaky(5), 10);
results.flakyGiveUpCalls = inv.calls;

const syncResult = inv.syncThrow('boom');
results.syncReturnsPromise = syncResult instanceof Promise;
results.syncThrow = await settle(syncResult, 10);

inv.calls = 0;
results.hangA = await settle(inv.hangA(), 100);
results.hangACalls = inv.calls;
inv.calls = 0;
results.hangB = await settle(inv.hangB(), 100);
results.hangBCalls = inv.calls;

// this binding on another instance, and per-class policies: a second instance shares the breaker.
const other = new Inventory('inv-2');
results.otherInstance = await settle(other.flaky(0), 10);
results.guardedOk = await settle(inv.guarded(false), 10);
await settle(inv.guarded(true), 10);
await settle(other.guarded(true), 10);
results.guardedOpen = await settle(inv.guarded(false), 10);

// @mesh.governed: a rule changes the running method's timeout, then its removal restores it.
const source = new FakeRuleSource('meshless');
const rules = new RuleStore({ prefix: 'meshless', sections: builtinSections, clock });
source.subscribe((snapshot) => rules.applySnapshot(snapshot));
const governor = new Governor({ rules, clock });
const Governed = governedInventory(governor);
const g = new Governed();
results.governedBefore = await settle(g.lookup(50), 300);
source.put('resources/fixture.lookup', { timeoutMs: 20 });
results.governedAfterRule = await settle(g.lookup(50), 300);
source.delete('resources/fixture.lookup');
results.governedAfterDelete = await settle(g.lookup(50), 300);

process.stdout.write(`${JSON.stringify(results)}\n`);
