import type { RawRule, RuleSnapshot } from '@meshless/core';
import type { ConsulResponse } from './connection.ts';

interface KvEntry {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
}

interface Known {
  readonly rule: RawRule;
  /** The value as Consul sent it (base64), for the next listing to compare and the disk copy to reuse. */
  readonly text: string | null;
}

/**
 * Reads `GET /v1/kv/<prefix>/?recurse` answers for one watch. Consul re-sends every key on each
 * change; an entry whose key, ModifyIndex and value text are those of the last listing is handed
 * on as the same RawRule object (same bytes, not decoded again), so the rule store can tell it
 * unchanged by identity. A value equal under a new ModifyIndex keeps its bytes. The comparison is
 * on the text, never on the index alone: a Consul restarted empty reuses small indexes.
 */
export class KvListingReader {
  private known = new Map<string, Known>();

  read(res: ConsulResponse): RuleSnapshot {
    const index = res.index ?? 0;
    if (res.status === 404) {
      this.known = new Map();
      return { index, entries: [], origin: 'source' };
    }
    const list = JSON.parse(res.body.toString('utf8')) as KvEntry[];
    if (!Array.isArray(list)) throw new Error('KV listing: expected a JSON array of entries');
    const known = new Map<string, Known>();
    const entries: RawRule[] = [];
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      const text = e.Value;
      const before = this.known.get(e.Key);
      let rule: RawRule;
      if (before !== undefined && before.text === text) {
        rule =
          before.rule.modifyIndex === e.ModifyIndex
            ? before.rule
            : { key: e.Key, value: before.rule.value, modifyIndex: e.ModifyIndex };
      } else {
        rule = {
          key: e.Key,
          value: text === null ? null : Buffer.from(text, 'base64'),
          modifyIndex: e.ModifyIndex,
        };
      }
      entries.push(rule);
      known.set(e.Key, { rule, text });
    }
    // Only a listing read whole replaces what is known (a throw above leaves the last one).
    this.known = known;
    return { index, entries, origin: 'source' };
  }

  /** The base64 text Consul sent for this entry's value, when it came from the last listing. */
  textOf(rule: RawRule): string | null | undefined {
    const known = this.known.get(rule.key);
    return known?.rule.value === rule.value ? known.text : undefined;
  }
}
