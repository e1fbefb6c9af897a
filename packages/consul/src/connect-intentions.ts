import {
  type Clock,
  ConfigError,
  type Disposable,
  Emitter,
  type Event,
  type Logger,
  noopLogger,
  type Random,
  systemClock,
  systemRandom,
  type TimerHandle,
} from '@meshless/core';
import { BlockingWatch, type WatchStats } from './blocking-watch.ts';
import {
  type Intention,
  parseLegacyIntentions,
  parseServiceIntentionsEntries,
  sameIntentions,
} from './connect-intentions-parse.ts';
import { type ConsulConnection, type ConsulResponse, statusError } from './connection.ts';
import { ReadyLatch } from './ready-latch.ts';

export interface IntentionSet {
  /** For this destination (exact name or '*'), highest precedence first, ties: exact source first, then by id. */
  readonly intentions: readonly Intention[];
  /** true/false from the authorize probe; undefined while unknown. */
  readonly defaultAllow: boolean | undefined;
  /** 'config-entry' (1.9+, L7 possible) or 'legacy'. */
  readonly source: 'config-entry' | 'legacy';
  readonly index: number;
}

export interface ConsulIntentionsOptions {
  connection: ConsulConnection;
  service: string;
  logger?: Logger;
  clock?: Clock;
  random?: Random;
  waitMs?: number;
}

type Mode = 'config-entry' | 'legacy';

const CONFIG_PATH = '/v1/config/service-intentions';
const LEGACY_PATH = '/v1/connect/intentions';
const AUTHORIZE_PATH = '/v1/agent/connect/authorize';
/** Consul 1.8's answer to a config kind it does not know (measured on 1.8.7: HTTP 500). */
const UNKNOWN_KIND = /invalid config entry kind/i;
const PROBE_TIMEOUT_MS = 5000;
const PROBE_RETRY_MAX_MS = 30_000;

/** Marks the 1.8 answer inside the config-entry watch's parse, so the loop switches to legacy. */
class LegacyConsul extends Error {}

/**
 * The intentions for one destination service, followed with a blocking query: the
 * `service-intentions` config entries on Consul 1.9+ (L7 permissions), else the legacy list (1.8,
 * which has no per-destination blocking query). Which one is detected once, from the config
 * request's own answer. A failed load keeps the last known set. The default decision (no
 * intention matches) comes from one `authorize` probe, repeated only while a wildcard intention
 * hides it; authorize is never called per request.
 */
export class ConsulIntentions implements Disposable {
  private readonly options: ConsulIntentionsOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly emitter = new Emitter<IntentionSet>();
  private readonly latch: ReadyLatch<IntentionSet>;
  private watch: BlockingWatch<Intention[]>;
  private readonly watches: BlockingWatch<Intention[]>[] = [];
  private mode: Mode | undefined;
  private set: IntentionSet | undefined;
  private lastError: string | undefined;
  private disposed = false;
  private probing = false;
  private probeAgain = false;
  private probeFailures = 0;
  private probeTimer: TimerHandle | undefined;
  private readonly probeController = new AbortController();

  readonly onDidChange: Event<IntentionSet> = this.emitter.event;

  constructor(options: ConsulIntentionsOptions) {
    if (!options.service) throw new ConfigError('ConsulIntentions: service is required', { path: 'service' });
    this.options = options;
    this.logger = options.logger ?? noopLogger;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.latch = new ReadyLatch(this.clock, `intentions for ${options.service}`);
    this.watch = this.startWatch('config-entry');
  }

  /** undefined until the first load. */
  current(): IntentionSet | undefined {
    return this.set;
  }

  /** The first loaded set; rejects with ConsulError after `timeoutMs` (default 15 s) or on dispose. */
  ready(timeoutMs = 15_000): Promise<IntentionSet> {
    return this.latch.wait(timeoutMs, () => this.lastError);
  }

  stats(): { loaded: boolean; source: Mode | undefined; watch: WatchStats; lastError: string | undefined } {
    return {
      loaded: this.set !== undefined,
      source: this.mode,
      watch: this.watch.stats(),
      lastError: this.lastError,
    };
  }

  /** Stops the watch and any probe; `done` resolves when the loops have ended. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.watch.dispose();
    this.probeTimer?.cancel();
    this.probeController.abort();
    this.latch.close();
    this.emitter.dispose();
  }

  /** Resolves when every watch loop it ran (detection included) has ended (after dispose). */
  get done(): Promise<void> {
    return Promise.all(this.watches.map((w) => w.done)).then(() => {});
  }

  private startWatch(mode: Mode): BlockingWatch<Intention[]> {
    const { connection, service } = this.options;
    const parse =
      mode === 'config-entry'
        ? (res: ConsulResponse) => {
            if (
              this.mode === undefined &&
              res.status >= 400 &&
              UNKNOWN_KIND.test(res.body.toString('utf8', 0, 512))
            )
              throw new LegacyConsul();
            if (res.status < 200 || res.status >= 300) throw statusError({ path: CONFIG_PATH }, res);
            return parseServiceIntentionsEntries(res.body, service, this.logger);
          }
        : (res: ConsulResponse) => parseLegacyIntentions(res.body, service, this.logger);
    const watch = new BlockingWatch<Intention[]>({
      connection,
      path: mode === 'config-entry' ? CONFIG_PATH : LEGACY_PATH,
      // 1.8 answers the unknown kind with 500 (400 on some builds): let parse see it once.
      ...(mode === 'config-entry' ? { acceptStatus: [400, 500] } : {}),
      parse,
      equals: sameIntentions,
      onChange: (intentions, index) => this.receive(mode, intentions, index),
      onError: (error, info) => this.watchError(mode, error, info),
      ...(this.options.waitMs === undefined ? {} : { waitMs: this.options.waitMs }),
      clock: this.clock,
      random: this.random,
    });
    this.watches.push(watch);
    return watch;
  }

  private watchError(mode: Mode, error: unknown, info: { failures: number; retryInMs: number }): void {
    if (error instanceof LegacyConsul) {
      if (this.disposed || this.mode !== undefined) return;
      this.mode = 'legacy';
      this.logger.info(
        'intentions: Consul has no service-intentions config entries (< 1.9); using the legacy list',
        {
          service: this.options.service,
        },
      );
      const old = this.watch;
      old.dispose();
      this.watch = this.startWatch('legacy');
      return;
    }
    this.lastError = (error as Error)?.message ?? String(error);
    const fields = {
      service: this.options.service,
      source: mode,
      error: this.lastError,
      failures: info.failures,
      retryInMs: info.retryInMs,
      keeping: this.set
        ? `${this.set.intentions.length} intentions (last known)`
        : 'none loaded: fail closed',
    };
    if (info.failures <= 1) this.logger.warn('intentions: load failed; retrying', fields);
    else this.logger.debug('intentions: load failed; retrying', fields);
  }

  private receive(mode: Mode, intentions: Intention[], index: number): void {
    if (this.disposed) return;
    this.mode = mode;
    this.lastError = undefined;
    const first = this.set === undefined;
    // Frozen: every listener shares this object, and none can change what the next one sees.
    this.set = Object.freeze({
      intentions: Object.freeze(intentions),
      defaultAllow: this.set?.defaultAllow,
      source: mode,
      index,
    });
    if (first)
      this.logger.info('intentions loaded', {
        service: this.options.service,
        source: mode,
        count: intentions.length,
      });
    this.emitter.fire(this.set);
    if (first) this.latch.open(this.set);
    if (this.set.defaultAllow === undefined) this.probe();
  }

  /** Learns the default decision once; a probe in flight runs again after it when intentions changed. */
  private probe(): void {
    if (this.disposed) return;
    if (this.probing) {
      this.probeAgain = true;
      return;
    }
    this.probing = true;
    this.probeTimer?.cancel();
    this.probeTimer = undefined;
    void this.runProbe().finally(() => {
      this.probing = false;
      if (this.probeAgain && !this.disposed && this.set?.defaultAllow === undefined) {
        this.probeAgain = false;
        this.probe();
      }
    });
  }

  private async runProbe(): Promise<void> {
    const { connection, service } = this.options;
    const signal = this.probeController.signal;
    try {
      const uri = await this.probeUri();
      const body = JSON.stringify({ Target: service, ClientCertURI: uri, ClientCertSerial: '01' });
      const res = await connection.request({
        method: 'POST',
        path: AUTHORIZE_PATH,
        body,
        signal,
        timeoutMs: PROBE_TIMEOUT_MS,
      });
      if (res.status === 403) {
        // The same token will be refused again: no retry loop, the next intentions change retries.
        const error = statusError({ method: 'POST', path: AUTHORIZE_PATH, body }, res);
        this.logger.error('intentions: the default decision is unknown (authorize refused)', {
          service,
          error: error.message,
        });
        return;
      }
      if (res.status < 200 || res.status >= 300)
        throw statusError({ method: 'POST', path: AUTHORIZE_PATH, body }, res);
      const decision = defaultFromAuthorize(res.body);
      this.probeFailures = 0;
      if (decision === undefined) {
        this.logger.debug('intentions: a wildcard intention answered the probe; default unknown for now', {
          service,
        });
        return;
      }
      const set = this.set;
      if (this.disposed || !set || set.defaultAllow === decision) return;
      this.set = Object.freeze({ ...set, defaultAllow: decision });
      this.logger.info('intentions: default decision learned', { service, defaultAllow: decision });
      this.emitter.fire(this.set);
    } catch (error) {
      if (signal.aborted || this.disposed) return;
      const failures = ++this.probeFailures;
      const ceiling = Math.min(PROBE_RETRY_MAX_MS, 500 * 2 ** Math.min(failures - 1, 10));
      const retryInMs = Math.floor(ceiling / 2 + (this.random() * ceiling) / 2);
      this.logger.warn('intentions: authorize probe failed; retrying', {
        service,
        error: (error as Error)?.message ?? String(error),
        retryInMs,
      });
      this.probeTimer = this.clock.setTimeout(() => {
        this.probeTimer = undefined;
        if (this.set?.defaultAllow === undefined) this.probe();
      }, retryInMs);
    }
  }

  /**
   * A source no exact intention names. Consul 1.8 checks neither its trust domain nor its
   * datacenter (measured), but we send the real trust domain so a stricter Consul would agree.
   */
  private async probeUri(): Promise<string> {
    const { connection } = this.options;
    let trustDomain = 'consul';
    const res = await connection.request({
      path: '/v1/agent/connect/ca/roots',
      signal: this.probeController.signal,
      timeoutMs: PROBE_TIMEOUT_MS,
    });
    if (res.status >= 200 && res.status < 300) {
      const td = (
        JSON.parse(res.body.toString('utf8', 0, Math.min(res.body.length, 1 << 20))) as {
          TrustDomain?: unknown;
        }
      )?.TrustDomain;
      if (typeof td === 'string' && /^[A-Za-z0-9.-]{1,253}$/.test(td)) trustDomain = td;
    }
    const dc = connection.options.datacenter ?? 'dc1';
    const suffix = Math.floor(this.random() * 2 ** 48)
      .toString(16)
      .padStart(12, '0');
    return `spiffe://${trustDomain}/ns/default/dc/${encodeURIComponent(dc)}/svc/meshless-probe-${suffix}`;
  }
}

/**
 * The default decision from an authorize answer: its Authorized when no intention matched ("Default
 * behavior configured by ACLs", "ACLs disabled, access is allowed by default"), undefined when an
 * intention (a wildcard) decided or the answer is not understood.
 */
export function defaultFromAuthorize(body: Buffer | string): boolean | undefined {
  const text = typeof body === 'string' ? body : body.toString('utf8', 0, Math.min(body.length, 64 * 1024));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const authorized = Object.hasOwn(parsed, 'Authorized')
    ? (parsed as { Authorized: unknown }).Authorized
    : undefined;
  const reason = Object.hasOwn(parsed, 'Reason') ? (parsed as { Reason: unknown }).Reason : undefined;
  if (typeof authorized !== 'boolean' || typeof reason !== 'string') return undefined;
  if (/matched intention/i.test(reason)) return undefined;
  if (/default behavior|ACLs disabled|allowed by default|denied by default/i.test(reason)) return authorized;
  return undefined;
}
