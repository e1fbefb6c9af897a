import type { ConsulKv, KvValue } from '@meshless/consul';
import type { Clock } from '@meshless/core';

/** One stored version of a rule document. */
export interface HistoryVersion {
  /** The ModifyIndex the document had in KV. */
  readonly index: number;
  /** When it was replaced and saved here (epoch ms), if known. */
  readonly savedAt: number | undefined;
  readonly size: number;
  readonly value: Buffer;
}

/** Where versions of a prefix are kept: beside it, so instances watching `<prefix>/` never see them. */
export function historyRoot(prefix: string): string {
  return `${prefix}-history`;
}

/**
 * Previous versions of rule documents, as `<prefix>-history/<relative key>/<ModifyIndex>`, the
 * value byte for byte and the save time in the key's flags. Keeps the newest N per key.
 */
export class RuleHistory {
  private readonly kv: ConsulKv;
  private readonly root: string;
  private readonly clock: Pick<Clock, 'wallNow'>;

  constructor(kv: ConsulKv, prefix: string, clock: Pick<Clock, 'wallNow'>) {
    this.kv = kv;
    this.root = historyRoot(prefix);
    this.clock = clock;
  }

  folder(relativeKey: string): string {
    return `${this.root}/${relativeKey}/`;
  }

  /** Stored versions, newest first. */
  async list(relativeKey: string): Promise<HistoryVersion[]> {
    const folder = this.folder(relativeKey);
    const versions: HistoryVersion[] = [];
    for (const entry of await this.kv.list(folder)) {
      const rest = entry.key.slice(folder.length);
      // Only `<folder>/<index>`: deeper keys belong to another document's history.
      if (!/^\d+$/.test(rest)) continue;
      versions.push({
        index: Number(rest),
        savedAt: entry.flags > 0 ? entry.flags : undefined,
        size: entry.value.byteLength,
        value: entry.value,
      });
    }
    return versions.sort((a, b) => b.index - a.index);
  }

  /** Saves the version about to be replaced, then drops all but the newest `keep`. */
  async record(relativeKey: string, current: KvValue, keep: number): Promise<void> {
    if (keep <= 0) return;
    await this.kv.put(`${this.folder(relativeKey)}${current.modifyIndex}`, current.value, {
      flags: this.clock.wallNow(),
    });
    const versions = await this.list(relativeKey);
    for (const old of versions.slice(keep)) {
      await this.kv.delete(`${this.folder(relativeKey)}${old.index}`);
    }
  }
}
