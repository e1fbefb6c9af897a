import { type Clock, systemClock } from './clock.ts';
import type { Disposable } from './disposable.ts';
import { RuleError, UnknownRuleKeyError } from './errors.ts';
import { Emitter, type Event } from './event.ts';
import { type Logger, noopLogger } from './logger.ts';
import { parseAndValidate } from './rule-parse.ts';
import { matchSection, type RuleSection } from './rule-section.ts';
import type { RawRule, RuleSnapshot } from './rule-source.ts';
import { nearest } from './schema-suggest.ts';

export interface RuleRejection {
  readonly code: string;
  readonly message: string;
  /** Field path inside the document ('' for whole-document errors). */
  readonly path: string;
  /** ModifyIndex of the rejected value. */
  readonly index: number;
  /** Wall-clock time of the rejection (epoch ms). */
  readonly at: number;
}

/** What one key is doing on this instance. */
export interface RuleKeyStatus {
  readonly key: string;
  readonly kind: string | undefined;
  readonly name: string;
  /** `applied`: the value in KV is in force. `rejected`: KV holds a bad value; the last good one (if any) stays. */
  readonly state: 'applied' | 'rejected';
  /** ModifyIndex of the document in force, if any. */
  readonly appliedIndex: number | undefined;
  readonly appliedAt: number | undefined;
  /** Present while the value in KV is rejected. */
  readonly rejection: RuleRejection | undefined;
  /** Rejections of this key since start. */
  readonly rejections: number;
}

export interface RuleStoreStatus {
  /** Index of the last snapshot applied (0 before the first). */
  readonly index: number;
  readonly origin: 'source' | 'cache' | 'none';
  readonly keys: readonly RuleKeyStatus[];
  readonly rejectedTotal: number;
}

/** A document came into force, changed, or was deleted (`value` undefined: defaults apply). */
export interface RuleChange<T = unknown> {
  readonly key: string;
  readonly section: RuleSection<T>;
  readonly name: string;
  readonly value: T | undefined;
  readonly previous: T | undefined;
  readonly index: number;
}

export interface RuleStoreOptions {
  prefix: string;
  sections: readonly RuleSection<unknown>[];
  logger?: Logger;
  clock?: Clock;
}

interface Entry {
  key: string;
  relativeKey: string;
  section: RuleSection | undefined;
  name: string;
  value: unknown;
  /** The bytes last seen in KV for this key (applied or rejected). */
  raw: Uint8Array | null;
  appliedIndex: number | undefined;
  appliedAt: number | undefined;
  seenIndex: number;
  rejection: RuleRejection | undefined;
  rejections: number;
  /** This key's part of status(), until the entry changes. */
  view: RuleKeyStatus | undefined;
}

/**
 * The governance center's state on one instance: validated documents by key, last-known-good
 * on bad input, and per-key status. Apply snapshots from a RuleSource; read with `get()`;
 * react with `onDidChange`. Parsing happens here, once per change, never per call.
 */
export class RuleStore implements Disposable {
  readonly prefix: string;
  private readonly sections: readonly RuleSection[];
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();
  private index = 0;
  private origin: RuleStoreStatus['origin'] = 'none';
  private rejectedTotal = 0;
  /** status() as last built, until a key, the index or the origin changes (listeners read it per snapshot). */
  private statusCache: RuleStoreStatus | undefined;
  /** The entries in key order, until a key comes or goes. */
  private sorted: Entry[] | undefined;
  private readonly changeEmitter = new Emitter<RuleChange>();
  private readonly rejectEmitter = new Emitter<RuleError>();
  private readonly snapshotEmitter = new Emitter<RuleStoreStatus>();

  /** A document came into force or was deleted. */
  readonly onDidChange: Event<RuleChange> = this.changeEmitter.event;
  /** A document was rejected; the last good one stays in force. */
  readonly onDidReject: Event<RuleError> = this.rejectEmitter.event;
  /** A whole snapshot was processed (after all its change and reject events). */
  readonly onDidApplySnapshot: Event<RuleStoreStatus> = this.snapshotEmitter.event;

  constructor(options: RuleStoreOptions) {
    this.prefix = options.prefix.replace(/\/+$/, '');
    this.sections = options.sections;
    this.logger = options.logger ?? noopLogger;
    this.clock = options.clock ?? systemClock;
  }

  /** The document in force for a section and name, or undefined (defaults apply). Frozen. */
  get<T>(section: RuleSection<T>, name = ''): T | undefined {
    const key = `${this.prefix}/${section.pattern.replace('*', name)}`;
    const entry = this.entries.get(key);
    return entry?.section === section ? (entry.value as T | undefined) : undefined;
  }

  /** Calls `listener` whenever the document for (section, name) changes. */
  watch<T>(section: RuleSection<T>, name: string, listener: (value: T | undefined) => void): Disposable {
    return this.onDidChange((change) => {
      if (change.section === section && change.name === name) listener(change.value as T | undefined);
    });
  }

  /** Applies a full listing of the prefix: new, changed, rejected and deleted keys. Never throws. */
  applySnapshot(snapshot: RuleSnapshot): void {
    const seen = new Set<string>();
    for (const raw of snapshot.entries) {
      if (raw.key.endsWith('/')) continue; // folders created by the Consul UI
      seen.add(raw.key);
      try {
        this.applyEntry(raw);
      } catch (error) {
        // Defensive: a bug here must not stop the other keys or reach the watch loop.
        this.logger.error('rule store failed on a key', { key: raw.key, error });
      }
    }
    // Every key held was listed again (the usual case): nothing to delete, no copy of the map.
    if (seen.size !== this.entries.size) {
      for (const [key, entry] of [...this.entries]) {
        if (!seen.has(key)) this.deleteEntry(entry, snapshot.index);
      }
    }
    if (this.index !== snapshot.index || this.origin !== snapshot.origin) this.statusCache = undefined;
    this.index = snapshot.index;
    this.origin = snapshot.origin;
    if (this.snapshotEmitter.hasListeners) this.snapshotEmitter.fire(this.status());
  }

  /** Frozen; the same object until something in it changes. */
  status(): RuleStoreStatus {
    if (this.statusCache) return this.statusCache;
    this.sorted ??= [...this.entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const keys = this.sorted.map((e) => {
      e.view ??= Object.freeze({
        key: e.key,
        kind: e.section?.kind,
        name: e.name,
        state: e.rejection ? 'rejected' : 'applied',
        appliedIndex: e.appliedIndex,
        appliedAt: e.appliedAt,
        rejection: e.rejection,
        rejections: e.rejections,
      });
      return e.view;
    });
    this.statusCache = Object.freeze({
      index: this.index,
      origin: this.origin,
      keys: Object.freeze(keys),
      rejectedTotal: this.rejectedTotal,
    });
    return this.statusCache;
  }

  dispose(): void {
    this.changeEmitter.dispose();
    this.rejectEmitter.dispose();
    this.snapshotEmitter.dispose();
  }

  private applyEntry(raw: RawRule): void {
    const existing = this.entries.get(raw.key);
    if (existing && sameBytes(existing.raw, raw.value)) {
      // Same bytes, perhaps under a new index (an idempotent write, or a Consul that lost its data
      // and was written again): record the index, but nothing changed for consumers. The index
      // alone cannot tell: a Consul restarted empty reuses small indexes for new values.
      if (existing.seenIndex === raw.modifyIndex) return;
      this.statusCache = undefined;
      existing.view = undefined;
      existing.seenIndex = raw.modifyIndex;
      if (existing.rejection) existing.rejection = { ...existing.rejection, index: raw.modifyIndex };
      else existing.appliedIndex = raw.modifyIndex;
      return;
    }
    const relativeKey = raw.key.startsWith(`${this.prefix}/`)
      ? raw.key.slice(this.prefix.length + 1)
      : raw.key;
    const match = matchSection(this.sections, relativeKey);
    this.statusCache = undefined;
    const entry: Entry = existing ?? {
      key: raw.key,
      relativeKey,
      section: match?.section,
      name: match?.name ?? '',
      value: undefined,
      raw: null,
      appliedIndex: undefined,
      appliedAt: undefined,
      seenIndex: 0,
      rejection: undefined,
      rejections: 0,
      view: undefined,
    };
    entry.seenIndex = raw.modifyIndex;
    entry.raw = raw.value;
    entry.view = undefined;
    if (!existing) {
      this.entries.set(raw.key, entry);
      this.sorted = undefined;
    }

    if (!match) {
      this.reject(
        entry,
        raw.modifyIndex,
        new UnknownRuleKeyError(unknownKeyMessage(this.sections, relativeKey), { key: raw.key }),
      );
      return;
    }
    let value: unknown;
    try {
      if (raw.value === null) throw new RuleError('document is empty (delete the key to use the defaults)');
      value = deepFreeze(parseAndValidate(match.section, raw.value, raw.key));
    } catch (error) {
      const ruleError = RuleError.isInstance(error)
        ? (error as RuleError)
        : new RuleError(String((error as Error)?.message ?? error), { key: raw.key, cause: error });
      this.reject(entry, raw.modifyIndex, ruleError);
      return;
    }
    const previous = entry.value;
    entry.value = value;
    entry.appliedIndex = raw.modifyIndex;
    entry.appliedAt = this.clock.wallNow();
    entry.rejection = undefined;
    this.logger.info('rule applied', { key: raw.key, index: raw.modifyIndex });
    this.changeEmitter.fire({
      key: raw.key,
      section: match.section,
      name: match.name,
      value,
      previous,
      index: raw.modifyIndex,
    });
  }

  private reject(entry: Entry, index: number, error: RuleError): void {
    const path = error.path;
    entry.rejection = {
      code: error.code,
      message: error.message,
      path,
      index,
      at: this.clock.wallNow(),
    };
    entry.rejections++;
    this.rejectedTotal++;
    this.logger.warn('rule rejected; last good document stays in force', {
      key: entry.key,
      index,
      code: error.code,
      path: path || undefined,
      message: error.message,
    });
    this.rejectEmitter.fire(
      error.key === undefined
        ? new RuleError(error.message, { key: entry.key, path, cause: error.cause })
        : error,
    );
  }

  private deleteEntry(entry: Entry, index: number): void {
    this.entries.delete(entry.key);
    this.statusCache = undefined;
    this.sorted = undefined;
    if (entry.section && entry.value !== undefined) {
      this.logger.info('rule deleted; defaults apply', { key: entry.key });
      this.changeEmitter.fire({
        key: entry.key,
        section: entry.section,
        name: entry.name,
        value: undefined,
        previous: entry.value,
        index,
      });
    }
  }
}

/** `services/catalog/polices` -> `... (did you mean services/catalog/policies?)`. */
function unknownKeyMessage(sections: readonly RuleSection[], relativeKey: string): string {
  const parts = relativeKey.split('/');
  // Each pattern with its `*` filled in from the key, so only the fixed segments may differ.
  const candidates = sections.flatMap((section) => {
    const pattern = section.pattern.split('/');
    if (pattern.length !== parts.length) return [];
    return [pattern.map((p, i) => (p === '*' ? parts[i]! : p)).join('/')];
  });
  const near = nearest(relativeKey, candidates);
  const expected = sections.map((s) => s.pattern).join(', ');
  return near
    ? `key is outside the layout (did you mean ${near}?; expected one of: ${expected})`
    : `key is outside the layout (expected one of: ${expected})`;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === b) return true; // a source that hands on an unchanged value as the same buffer
  if (a === null || b === null) return false;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
