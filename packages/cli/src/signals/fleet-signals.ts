import { ConsulConnection, type ConsulOptions, resolveConsulOptions } from '@meshless/consul';
import {
  aggregateWindows,
  FiguresAccumulator,
  type FleetAggregates,
  instanceWindow,
  type LabelledWindow,
  type SignalSource,
  type SignalsAnswer,
  type SubsetWindow,
} from 'meshless/contract';
import {
  catalogServices,
  DEFAULT_SCRAPE_LIMITS,
  type ScrapeLimits,
  type SignalsInstance,
  scrapeAll,
  signalsInstances,
} from './signals-scrape.ts';
import { checkSignalsIdentity, DEFAULT_SIGNALS_IDENTITY, SignalsTls } from './signals-tls.ts';

export interface FleetSignalsOptions {
  /** The Consul agent: a connection of yours (left open), or options (default: the CONSUL_HTTP_* environment). */
  readonly consul?: ConsulConnection | ConsulOptions;
  /** Services whose instances are read; default every service in the catalog. */
  readonly services?: readonly string[];
  readonly limits?: Partial<ScrapeLimits>;
  /**
   * The service name of the reader's Connect identity: Connect-native (zero-trust) instances are
   * read over mutual TLS with a leaf certificate for it from the local agent, so their intentions
   * must allow `<identity> -> <service>` (docs/security.md). Default `meshless-cli`. Nothing is
   * asked of Connect while no instance read is Connect-native.
   */
  readonly identity?: string;
}

/** How one instance answered in the last read. */
export interface InstanceState {
  readonly service: string;
  readonly id: string;
  readonly version: string;
  readonly url: string;
  readonly ok: boolean;
  readonly error?: string;
}

/** What a caller service's instances hold now against a service they call (summed over them). */
export interface FleetTargetHealth {
  readonly caller: string;
  readonly service: string;
  readonly ejected: number;
  readonly openBreakers: number;
}

/** The fleet over a window: aggregates plus who answered. */
export interface FleetSignalsReport extends FleetAggregates {
  /** Wall clock of the read. */
  readonly at: number;
  readonly windowMs: number;
  readonly instances: readonly InstanceState[];
  /** Ejected endpoints and open breakers now, from the last answers (not over the window); absent from Prometheus. */
  readonly targets?: readonly FleetTargetHealth[];
}

interface Reading {
  readonly answer: SignalsAnswer;
  /** Reader's monotonic clock when read. */
  readonly readAt: number;
}

// Enough for a window of 16 reads (a rollout reading every 5 s over 60 s needs 12); memory is per instance.
const KEEP_READINGS = 16;
const MAX_WINDOW_MS = 3_600_000;

/**
 * Reads the golden signals of a fleet through the Consul catalog (registration meta
 * `meshless-signals`) and computes figures over a window from two readings of each instance, as
 * Prometheus computes rates from two scrapes. It keeps the last readings of each instance, so
 * a reader called every few seconds (the rollout, `top`) scrapes once per call; the first call
 * over a window it has no earlier reading for takes one, waits `windowMs`, and reads again.
 */
export class FleetSignals implements SignalSource {
  private readonly connection: ConsulConnection;
  private readonly ownsConnection: boolean;
  private readonly services: readonly string[] | undefined;
  private readonly limits: ScrapeLimits;
  private readonly history = new Map<string, Reading[]>();
  private readonly closing = new AbortController();
  private readonly identity: string;
  /** Made at the first Connect-native instance; never before. */
  private tls: SignalsTls | undefined;

  constructor(options: FleetSignalsOptions = {}) {
    // Checked first: a bad name must not leave a connection open.
    this.identity = checkSignalsIdentity(options.identity ?? DEFAULT_SIGNALS_IDENTITY);
    // A connection by its shape, not instanceof: the caller's may come from another copy of the package.
    if (isConnection(options.consul)) {
      this.connection = options.consul;
      this.ownsConnection = false;
    } else {
      this.connection = new ConsulConnection(resolveConsulOptions(options.consul ?? {}, process.env));
      this.ownsConnection = true;
    }
    this.services = options.services;
    this.limits = { ...DEFAULT_SCRAPE_LIMITS, ...options.limits };
  }

  /** Figures over the last `windowMs` for `services` (default: the constructor's, else all). */
  async read(windowMs: number, services?: readonly string[]): Promise<FleetSignalsReport> {
    const { windows, instances, targets } = await this.windows(windowMs, services ?? this.services);
    return { at: Date.now(), windowMs, instances, ...aggregateWindows(windows), targets };
  }

  /** SignalSource: calls to `service` by subset over the window, from `caller`'s instances or everyone's. */
  async subsetWindows(
    service: string,
    windowMs: number,
    options: { caller?: string } = {},
  ): Promise<readonly SubsetWindow[]> {
    const scope = options.caller !== undefined ? [options.caller] : this.services;
    const { windows } = await this.windows(windowMs, scope);
    const bySubset = new Map<string, FiguresAccumulator>();
    for (const w of windows) {
      for (const r of w.window.outbound) {
        if (r.service !== service) continue;
        let acc = bySubset.get(r.subset);
        if (!acc) {
          acc = new FiguresAccumulator();
          bySubset.set(r.subset, acc);
        }
        acc.add(r, 'outbound', w.window.seconds);
      }
    }
    return [...bySubset].map(([subset, acc]) => {
      const f = acc.figures();
      return { subset, requests: f.requests, errors: f.errors, latency: f.latency };
    });
  }

  /** Stops a wait in progress; closes the Consul connection it opened. */
  async close(): Promise<void> {
    this.closing.abort(new Error('FleetSignals closed'));
    const tls = this.tls;
    this.tls = undefined;
    await tls?.close();
    if (this.ownsConnection) await this.connection.close();
  }

  private async windows(
    windowMs: number,
    services: readonly string[] | undefined,
  ): Promise<{ windows: LabelledWindow[]; instances: InstanceState[]; targets: FleetTargetHealth[] }> {
    if (!(windowMs > 0 && windowMs <= MAX_WINDOW_MS)) {
      throw new RangeError(`windowMs: expected 1..${MAX_WINDOW_MS}, got ${windowMs}`);
    }
    const names = services ?? (await catalogServices(this.connection));
    const found = (
      await Promise.all(names.map((s) => signalsInstances(this.connection, s).catch(() => [])))
    ).flat();
    // Nothing read before for any of them (a first call): a baseline now, the window, then the reading.
    if (found.length > 0 && found.every((i) => !this.history.has(i.id))) {
      await this.scrape(found);
      await this.wait(windowMs);
    }
    const results = await this.scrape(found);
    const windows: LabelledWindow[] = [];
    const instances: InstanceState[] = [];
    const targets = new Map<
      string,
      { caller: string; service: string; ejected: number; openBreakers: number }
    >();
    const now = performance.now();
    for (const r of results) {
      const { service, id, version, url } = r.instance;
      instances.push(
        r.answer
          ? { service, id, version, url, ok: true }
          : { service, id, version, url, ok: false, error: r.error },
      );
      if (!r.answer) continue;
      // `?? []`: an older meshless/contract beside this reader parses no targets.
      for (const t of r.answer.targets ?? []) {
        const k = `${service}\u0001${t.service}`;
        const sum = targets.get(k) ?? { caller: service, service: t.service, ejected: 0, openBreakers: 0 };
        sum.ejected += t.ejected;
        sum.openBreakers += t.openBreakers;
        targets.set(k, sum);
      }
      const base = this.baseline(id, r.answer, windowMs, now);
      if (base === 'none') continue;
      windows.push({ service, version, window: instanceWindow(r.answer, base) });
    }
    return { windows, instances, targets: [...targets.values()] };
  }

  /**
   * The reading a window ends at `now` starts from: the newest one at least `windowMs` old; an
   * instance started within the window counts from zero (undefined); else the oldest reading
   * there is (a shorter window, its own length in `seconds`); 'none' for an instance seen for the
   * first time whose counts run back further than the window.
   */
  private baseline(
    id: string,
    now: SignalsAnswer,
    windowMs: number,
    at: number,
  ): SignalsAnswer | undefined | 'none' {
    const readings = (this.history.get(id) ?? []).filter(
      (r) => r.answer !== now && r.answer.startedAt === now.startedAt,
    );
    for (let i = readings.length - 1; i >= 0; i--) {
      if (now.uptimeMs - readings[i]!.answer.uptimeMs >= windowMs * 0.98) return readings[i]!.answer;
    }
    if (now.uptimeMs <= windowMs * 1.02) return undefined;
    const oldest = readings.find((r) => r.readAt < at);
    return oldest ? oldest.answer : 'none';
  }

  private async scrape(instances: readonly SignalsInstance[]) {
    if (!this.tls && !this.closing.signal.aborted && instances.some((i) => i.mtls)) {
      this.tls = new SignalsTls(this.connection, this.identity, this.limits.concurrency);
    }
    const results = await scrapeAll(instances, this.limits, this.tls);
    const now = performance.now();
    for (const r of results) {
      if (!r.answer) continue;
      const list = this.history.get(r.instance.id) ?? [];
      list.push({ answer: r.answer, readAt: now });
      // Bounded per instance (KEEP_READINGS), and nothing older than any window can need.
      while (list.length > KEEP_READINGS || (list.length > 1 && now - list[0]!.readAt > MAX_WINDOW_MS * 2))
        list.shift();
      this.history.set(r.instance.id, list);
    }
    // Instances gone for longer than any window: forgotten, so the map does not grow with churn.
    for (const [id, list] of this.history) {
      if (now - list[list.length - 1]!.readAt > MAX_WINDOW_MS * 2) this.history.delete(id);
    }
    return results;
  }

  private wait(ms: number): Promise<void> {
    const signal = this.closing.signal;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      // A ref'd timer: a CLI waiting for its second reading must not exit meanwhile.
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function isConnection(c: ConsulConnection | ConsulOptions | undefined): c is ConsulConnection {
  return typeof (c as { request?: unknown } | undefined)?.request === 'function';
}

/** One read of the fleet over `windowMs` (takes `windowMs`: two readings that far apart). */
export async function readFleetSignals(
  options: FleetSignalsOptions & { windowMs: number },
): Promise<FleetSignalsReport> {
  const reader = new FleetSignals(options);
  try {
    return await reader.read(options.windowMs);
  } finally {
    await reader.close();
  }
}
