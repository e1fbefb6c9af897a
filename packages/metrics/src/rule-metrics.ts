import type { Disposable, RuleStore, RuleStoreStatus } from '@meshless/core';
import type { CounterFamily } from './counter-family.ts';
import type { AnyRegistry } from './family.ts';
import { Gauge } from './prom.ts';

/**
 * Which rule document version each key runs (its Consul ModifyIndex) and how many documents
 * were rejected, per key. Keys are bounded by the documents under the prefix.
 */
export class RuleMetrics {
  private readonly appliedIndex: Gauge<'key'>;
  private readonly heldGauge: Gauge;
  private readonly rejectedTotal: CounterFamily;
  /** The index each key's series was last set to. */
  private readonly known = new Map<string, number>();
  /** The store status last synced (a RuleStore hands on the same object while nothing changed). */
  private synced: RuleStoreStatus | undefined;

  constructor(prefix: string, registry: AnyRegistry, rejected: CounterFamily) {
    this.rejectedTotal = rejected;
    this.appliedIndex = new Gauge({
      name: `${prefix}rule_applied_index`,
      help: 'ModifyIndex of the rule document in force, per KV key',
      labelNames: ['key'],
      registers: [registry],
    });
    this.heldGauge = new Gauge({
      name: `${prefix}rules_held`,
      help: '1 while the last good rules are held because the prefix read as empty in one step (access or data loss)',
      registers: [registry],
    });
    this.heldGauge.set(0);
  }

  /** The rules are held (true) or applied from KV again (false). */
  held(on: boolean): void {
    this.heldGauge.set(on ? 1 : 0);
  }

  applied(key: string, modifyIndex: number): void {
    if (this.known.get(key) === modifyIndex) return;
    this.known.set(key, modifyIndex);
    this.appliedIndex.set({ key }, modifyIndex);
  }

  /** The key was deleted (defaults apply again): its series goes. */
  removed(key: string): void {
    if (this.known.delete(key)) this.appliedIndex.remove({ key });
  }

  rejected(key: string): void {
    this.rejectedTotal.cell([key]).value++;
  }

  /**
   * Keeps the metrics in step with a RuleStore: applied indexes after every snapshot (also the
   * same-bytes re-writes that fire no change event), rejections as they happen.
   */
  observe(store: RuleStore): Disposable {
    this.sync(store.status());
    const snapshots = store.onDidApplySnapshot((status) => this.sync(status));
    const rejections = store.onDidReject((error) => this.rejected(error.key ?? ''));
    return {
      dispose() {
        snapshots.dispose();
        rejections.dispose();
      },
    };
  }

  private sync(status: RuleStoreStatus): void {
    if (status === this.synced) return;
    this.synced = status;
    const present = new Set<string>();
    for (const k of status.keys) {
      if (k.appliedIndex === undefined) continue;
      present.add(k.key);
      this.applied(k.key, k.appliedIndex);
    }
    if (present.size !== this.known.size)
      for (const key of [...this.known.keys()]) if (!present.has(key)) this.removed(key);
  }
}
