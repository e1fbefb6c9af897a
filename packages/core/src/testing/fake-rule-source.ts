import type { Disposable } from '../disposable.ts';
import { Emitter } from '../event.ts';
import type { RawRule, RuleSnapshot, RuleSource, RuleSourceStats } from '../rule-source.ts';

const encoder = new TextEncoder();

/** An in-memory KV prefix for unit tests: `put`/`delete` emit a new snapshot synchronously. */
export class FakeRuleSource implements RuleSource {
  readonly prefix: string;
  private readonly data = new Map<string, RawRule>();
  private index = 0;
  private readonly emitter = new Emitter<RuleSnapshot>();

  constructor(prefix = 'meshless') {
    this.prefix = prefix;
  }

  subscribe(listener: (snapshot: RuleSnapshot) => void): Disposable {
    return this.emitter.event(listener);
  }

  ready(): Promise<RuleSnapshot | undefined> {
    return Promise.resolve(this.snapshot());
  }

  stats(): RuleSourceStats {
    return { index: this.index, failures: 0 };
  }

  /** Writes a relative key (`services/catalog/routes`); objects are stored as JSON. */
  put(relativeKey: string, value: unknown): number {
    const key = `${this.prefix}/${relativeKey}`;
    const bytes =
      value instanceof Uint8Array
        ? value
        : encoder.encode(typeof value === 'string' ? value : JSON.stringify(value));
    this.index++;
    this.data.set(key, { key, value: bytes, modifyIndex: this.index });
    this.emit();
    return this.index;
  }

  delete(relativeKey: string): void {
    this.index++;
    this.data.delete(`${this.prefix}/${relativeKey}`);
    this.emit();
  }

  snapshot(): RuleSnapshot {
    return { index: this.index, entries: [...this.data.values()], origin: 'source' };
  }

  dispose(): void {
    this.emitter.dispose();
  }

  private emit(): void {
    this.emitter.fire(this.snapshot());
  }
}
