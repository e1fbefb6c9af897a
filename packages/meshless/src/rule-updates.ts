import type { ConsulRuleSource } from '@meshless/consul';
import { type Disposable, type RuleStore, toDisposable } from '@meshless/core';

/**
 * Applies the source's snapshots to the rule store, except while paused
 * (`mesh.pauseRuleUpdates()`: an incident freezes one instance's rules while it is looked into).
 */
export class RuleUpdates implements Disposable {
  private readonly source: Pick<ConsulRuleSource, 'subscribe' | 'snapshot'>;
  private readonly rules: Pick<RuleStore, 'applySnapshot'>;
  private readonly subscription: Disposable;
  private paused = false;

  constructor(
    source: Pick<ConsulRuleSource, 'subscribe' | 'snapshot'>,
    rules: Pick<RuleStore, 'applySnapshot'>,
  ) {
    this.source = source;
    this.rules = rules;
    this.subscription = source.subscribe((snapshot) => {
      if (!this.paused) rules.applySnapshot(snapshot);
    });
  }

  /** Holds the rules in force until the result is disposed; then the latest snapshot applies at once. */
  pause(): Disposable {
    this.paused = true;
    return toDisposable(() => {
      this.paused = false;
      const latest = this.source.snapshot;
      if (latest) this.rules.applySnapshot(latest);
    });
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
