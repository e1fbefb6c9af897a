import {
  type Clock,
  type Disposable,
  type Logger,
  noopLogger,
  type Random,
  type RuleKeyStatus,
  type RuleStoreStatus,
  sleep,
  systemClock,
  systemRandom,
} from '@meshless/core';
import type { ConsulConnection } from './connection.ts';
import { markerKey, ruleKeyOfStatus, type StatusEntry, statusKeyFor } from './rule-listing.ts';

export interface RuleStatusWriterOptions {
  connection: ConsulConnection;
  prefix: string;
  /** Datacenter whose KV holds the rules (`?dc=`): the entries go beside the rules. Default: the agent's own. */
  datacenter?: string;
  /** Who writes ("reported by"): the instance's service id, or a name. */
  instance: string;
  /**
   * True while the rules are held (the prefix read as empty): nothing is written then, above all
   * not the marker, which would turn a wiped prefix into one emptied on purpose. Asked before each write.
   */
  held: () => boolean;
  /** Rule documents in the last live listing: the marker is written only beside rules Consul really lists. */
  listedRules: () => number;
  logger?: Logger;
  clock?: Clock;
  random?: Random;
  /** Writes wait a random 0..spreadMs first (default 300), so a fleet writes an entry about once. */
  spreadMs?: number;
}

/** The machine-readable last line of a status entry. */
export interface StatusEntryReport {
  readonly v: 1;
  readonly key: string;
  /** ModifyIndex of the rejected version. */
  readonly index: number;
  readonly path: string;
  readonly message: string;
  /** ModifyIndex in force instead (null: defaults). */
  readonly applied: number | null;
  readonly by: string;
  /** Epoch ms. */
  readonly at: number;
}

const REPORT_PREFIX = 'meshless-rejection: ';
const MARKER_TEXT = 'meshless: this prefix holds rules; do not delete this key';

/** People first (the Consul UI shows the value as text), the JSON last. */
export function formatStatusEntry(report: StatusEntryReport): string {
  const kept = report.applied === null ? 'the defaults apply' : `version ${report.applied} stays in force`;
  return [
    `REJECTED: version ${report.index} of ${report.key} is not applied; ${kept}.`,
    report.message,
    'Fix the document and save it again: this entry goes away when a new version is saved.',
    `Reported by ${report.by} at ${new Date(report.at).toISOString()}.`,
    `${REPORT_PREFIX}${JSON.stringify(report)}`,
  ].join('\n');
}

export function parseStatusEntry(value: Uint8Array | null): StatusEntryReport | undefined {
  if (value === null) return undefined;
  const text = Buffer.from(value).toString('utf8');
  const at = text.lastIndexOf(REPORT_PREFIX);
  if (at < 0) return undefined;
  try {
    const raw = JSON.parse(text.slice(at + REPORT_PREFIX.length)) as Partial<StatusEntryReport>;
    return raw && raw.v === 1 && typeof raw.index === 'number' && typeof raw.key === 'string'
      ? (raw as StatusEntryReport)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes what instances see back where operators edit: beside each rejected key, an entry under
 * `<prefix>/_status/` saying why and which version stays in force; it is deleted once a new version
 * of the key is saved (or the key is deleted). Writes use check-and-set, so a fleet that rejects the
 * same document writes it once (the others find it done in their next listing). Also keeps the
 * marker that tells an emptied prefix from a lost one. A token without write access to `_status/`
 * turns this off (logged once); it never affects rules or health.
 */
export class RuleStatusWriter implements Disposable {
  private readonly options: RuleStatusWriterOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private running: Promise<void> | undefined;
  private again = false;
  private denied = false;
  private disposed = false;
  private latest: { rules: RuleStoreStatus; entries: ReadonlyMap<string, StatusEntry> } | undefined;
  private readonly random: Random;
  private readonly spreadMs: number;
  private readonly stop = new AbortController();
  /** Resolved once: a `dc` key in a query, even undefined, stands in for the connection's own. */
  private readonly datacenter: string | undefined;

  constructor(options: RuleStatusWriterOptions) {
    this.options = options;
    this.logger = options.logger ?? noopLogger;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.spreadMs = options.spreadMs ?? 300;
    this.datacenter = options.datacenter ?? options.connection.options.datacenter;
  }

  /** Reconciles `_status/` with the rules' state (in the background; never throws). */
  update(rules: RuleStoreStatus, entries: ReadonlyMap<string, StatusEntry>): void {
    if (this.disposed || this.denied) return;
    this.latest = { rules, entries };
    if (this.running) {
      this.again = true;
      return;
    }
    // Nothing to write (most listings): no background pass at all. A plan that throws gets the
    // pass, which reports it.
    try {
      if (this.plan().length === 0) return;
    } catch {}
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves when the writes in progress are done. */
  get idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  dispose(): void {
    this.disposed = true;
    this.stop.abort();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        // A fleet sees a rejection at once; each instance waits a random moment and looks again,
        // so the first entry written reaches the others' listings before most of them write too.
        let writes = this.plan();
        if (writes.length > 0 && this.spreadMs > 0) {
          await sleep(this.random() * this.spreadMs, this.stop.signal, this.clock);
          writes = this.plan();
        }
        for (const w of writes) await this.write(w.method, w.key, w.cas, w.body);
      } catch (error) {
        if (this.disposed) return;
        this.logger.debug('status entries not written', { error: (error as Error)?.message });
      }
    } while (this.again && !this.disposed && !this.denied);
  }

  /** The writes that bring `_status/` in line with the rules' state, from the latest listing. */
  private plan(): { method: 'PUT' | 'DELETE'; key: string; cas: number; body?: string }[] {
    const latest = this.latest;
    if (!latest || this.options.held()) return [];
    const { rules, entries } = latest;
    const { prefix } = this.options;
    const out: { method: 'PUT' | 'DELETE'; key: string; cas: number; body?: string }[] = [];
    // Built only when some instance wrote an entry (most listings hold only the marker).
    let byKey: Map<string, RuleKeyStatus> | undefined;
    if (this.options.listedRules() > 0 && !entries.has(markerKey(prefix))) {
      out.push({ method: 'PUT', key: markerKey(prefix), cas: 0, body: MARKER_TEXT });
    }
    for (const [statusKey, entry] of entries) {
      const ruleKey = ruleKeyOfStatus(prefix, statusKey);
      if (ruleKey === undefined) continue;
      const report = parseStatusEntry(entry.value);
      byKey ??= new Map<string, RuleKeyStatus>(rules.keys.map((k) => [k.key, k]));
      const now = byKey.get(ruleKey);
      // Gone once the key is deleted or a newer version is in force. An instance that accepts
      // the very version another rejected (an older SDK?) leaves the entry: no write-delete flapping.
      // A newer rejection is overwritten below.
      if (now === undefined || (now.state === 'applied' && now.appliedIndex !== report?.index))
        out.push({ method: 'DELETE', key: statusKey, cas: entry.modifyIndex });
    }
    for (const k of rules.keys) {
      if (k.state !== 'rejected' || !k.rejection) continue;
      const statusKey = statusKeyFor(prefix, k.key);
      const existing = entries.get(statusKey);
      const report = existing ? parseStatusEntry(existing.value) : undefined;
      if (report && report.index === k.rejection.index) continue;
      const body = formatStatusEntry({
        v: 1,
        key: k.key,
        index: k.rejection.index,
        path: k.rejection.path,
        message: k.rejection.message,
        applied: k.appliedIndex ?? null,
        by: this.options.instance,
        at: this.clock.wallNow(),
      });
      out.push({ method: 'PUT', key: statusKey, cas: existing?.modifyIndex ?? 0, body });
    }
    return out;
  }

  /** One check-and-set write; false when someone else wrote first. */
  private async write(method: 'PUT' | 'DELETE', key: string, cas: number, body?: string): Promise<boolean> {
    if (this.disposed || this.denied || this.options.held()) return false;
    const res = await this.options.connection.request({
      method,
      path: `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`,
      query: { cas, dc: this.datacenter },
      ...(body === undefined ? {} : { body }),
      timeoutMs: 5000,
    });
    if (res.status === 403) {
      this.denied = true;
      this.logger.warn(
        `no write access to ${this.options.prefix}/_status/: rejected rules are not shown beside their keys (grant key_prefix "${this.options.prefix}/_status/" write)`,
      );
      return false;
    }
    return res.status === 200 && res.body.toString('utf8').trim() === 'true';
  }
}
