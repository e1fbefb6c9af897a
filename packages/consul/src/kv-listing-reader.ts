import type { RawRule, RuleSnapshot } from '@meshless/core';
import type { ConsulResponse } from './connection.ts';

interface KvEntry {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
}

interface Known {
  rule: RawRule;
  /** The value as Consul sent it (base64), for the next listing to compare and the disk copy to reuse. */
  text: string | null;
  /** The read that last listed the key. */
  read: number;
}

/**
 * Reads `GET /v1/kv/<prefix>/?recurse` answers for one watch. Consul re-sends every key on each
 * change; an entry whose key, ModifyIndex and value text are those of the last listing is handed
 * on as the same RawRule object (same bytes, not decoded again), so the rule store can tell it
 * unchanged by identity. A value equal under a new ModifyIndex keeps its bytes. The comparison is
 * on the text, never on the index alone: a Consul restarted empty reuses small indexes.
 * What is known is updated in place (no new map per listing, which comes with every change).
 */
export class KvListingReader {
  private readonly known = new Map<string, Known>();
  private reads = 0;

  read(res: ConsulResponse): RuleSnapshot {
    const index = res.index ?? 0;
    if (res.status === 404) {
      this.known.clear();
      return { index, entries: [], origin: 'source' };
    }
    const list = JSON.parse(res.body.toString('utf8')) as KvEntry[];
    if (!Array.isArray(list)) throw new Error('KV listing: expected a JSON array of entries');
    const read = ++this.reads;
    const entries: RawRule[] = [];
    let listed = 0;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      const text = e.Value;
      const known = this.known.get(e.Key);
      let rule: RawRule;
      if (known !== undefined && known.text === text) {
        rule =
          known.rule.modifyIndex === e.ModifyIndex
            ? known.rule
            : { key: e.Key, value: known.rule.value, modifyIndex: e.ModifyIndex };
      } else {
        // Decoded before anything known changes: a bad value throws with the last listing intact.
        rule = {
          key: e.Key,
          value: text === null ? null : Buffer.from(text, 'base64'),
          modifyIndex: e.ModifyIndex,
        };
      }
      if (known === undefined) {
        this.known.set(e.Key, { rule, text, read });
        listed++;
      } else {
        if (known.read !== read) listed++; // not a key listed twice
        known.rule = rule;
        known.text = text;
        known.read = read;
      }
      entries.push(rule);
    }
    // Keys the listing no longer has are forgotten (a key written again is read afresh).
    if (listed !== this.known.size) {
      for (const [key, known] of this.known) if (known.read !== read) this.known.delete(key);
    }
    return { index, entries, origin: 'source' };
  }

  /** The base64 text Consul sent for this entry's value, when it came from the last listing. */
  textOf(rule: RawRule): string | null | undefined {
    const known = this.known.get(rule.key);
    return known?.rule.value === rule.value ? known.text : undefined;
  }
}
