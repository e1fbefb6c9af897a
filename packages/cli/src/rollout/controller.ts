import { type ConsulConnection, ConsulKv } from '@meshless/consul';
import { type Clock, sleep, systemClock } from '@meshless/core';
import type { LatencyHistogram, SignalSource } from 'meshless/contract';
import { RuleHistory } from '../history.ts';
import { DEFAULT_JUDGE, describeFigures, type JudgeOptions, judge, type Verdict } from './judge.ts';
import {
  checkPlan,
  KEEP_DECISIONS,
  parseState,
  type RolloutState,
  type RolloutStatus,
  stateKey,
} from './rollout-state.ts';
import { findManagedRoutes, RouteError, withCanaryWeight } from './route-weights.ts';
import { type LockOptions, SessionLock } from './session-lock.ts';

export const DEFAULT_PLAN: readonly number[] = [1, 5, 25, 50, 100];

export interface RolloutOptions {
  /** To the agent, in the datacenter whose KV holds the rules (sessions are per datacenter too). */
  readonly connection: ConsulConnection;
  /** KV prefix, default `meshless`. */
  readonly prefix?: string;
  readonly service: string;
  readonly canary: string;
  /** Default `stable`. */
  readonly stable?: string;
  /** Canary weights, percent, increasing, ending at 100. Default 1, 5, 25, 50, 100. */
  readonly plan?: readonly number[];
  /** Time between evaluations of a step (promotion, holds), ms. Default 5 000. */
  readonly intervalMs?: number;
  /**
   * Within an interval, the step is also judged this often (ms, default 1 000) and only a rollback
   * acts on it: the sequential error test stays valid however often it looks. Capped by intervalMs.
   */
  readonly judgeEveryMs?: number;
  /** Holds in a row (too few samples) before a step pauses the rollout. Default 12. */
  readonly maxHolds?: number;
  /**
   * Stable's latency over this long is read before the first weight write (and on a resume): it
   * shapes the sequential latency test of the first step; later steps use the step before. 0 reads
   * none (the first step is then judged on latency by p95/p99 only). Default 2 000. A source with
   * history (`signals.historyMs`: Prometheus, 5 min) is read over that much of the past at once
   * when it is longer.
   */
  readonly baselineMs?: number;
  /** Longest window judged, ms (a step's window grows from its start up to this). Default 60 000. */
  readonly maxWindowMs?: number;
  readonly judge?: Partial<JudgeOptions>;
  readonly signals: SignalSource;
  /** Judge only calls made by this service (e.g. the gateway). Default all callers. */
  readonly caller?: string;
  /** A paused rollout continues only when this is true (`--resume`). */
  readonly resume?: boolean;
  /** Start the plan over, whatever the state says (`--restart`). */
  readonly restart?: boolean;
  readonly lock?: LockOptions;
  /** How long to wait for another controller's lock to free, ms. Default 0 (fail at once). */
  readonly waitForLockMs?: number;
  /** Versions of the routes document kept in history (`meshless history`). Default 10. */
  readonly historyKeep?: number;
  readonly clock?: Clock;
  /** One line per event and decision, with the figures. Default none. */
  readonly log?: (line: string) => void;
  /** Stops the controller (releases the lock, leaves the state running so it can resume). */
  readonly signal?: AbortSignal;
}

export type RolloutOutcome = RolloutStatus | 'stopped' | 'locked' | 'refused' | 'lost-lock' | 'failed';

export interface RolloutResult {
  readonly outcome: RolloutOutcome;
  readonly reason: string;
  readonly state: RolloutState | undefined;
}

/** A running controller: `done` settles with the result (never rejects). */
export interface RolloutRun {
  readonly done: Promise<RolloutResult>;
  /** Stops and releases the lock; resolves with the result. */
  stop(): Promise<RolloutResult>;
  /** Stops without releasing anything, as if the process were killed: the session's TTL frees the lock. */
  abandon(): void;
}

/** Runs a rollout to its end (promoted, rolled back, paused, ...). Never rejects. */
export function rollout(options: RolloutOptions): Promise<RolloutResult> {
  return startRollout(options).done;
}

export function startRollout(options: RolloutOptions): RolloutRun {
  const abort = new AbortController();
  const onOuter = () => abort.abort();
  options.signal?.addEventListener('abort', onOuter, { once: true });
  const controller = new Controller(options, abort.signal);
  const done = controller.run().finally(() => options.signal?.removeEventListener('abort', onOuter));
  return {
    done,
    stop: () => {
      abort.abort();
      return done;
    },
    abandon: () => {
      controller.abandoned = true;
      abort.abort();
    },
  };
}

class Stop extends Error {
  readonly outcome: RolloutOutcome;
  constructor(outcome: RolloutOutcome, reason: string) {
    super(reason);
    this.outcome = outcome;
  }
}

class Controller {
  abandoned = false;
  private readonly o: RolloutOptions;
  private readonly signal: AbortSignal;
  private readonly kv: ConsulKv;
  private readonly clock: Clock;
  private readonly prefix: string;
  private readonly stable: string;
  private readonly routesKey: string;
  private readonly relativeRoutesKey: string;
  private readonly lock: SessionLock;
  private readonly history: RuleHistory;
  private readonly judgeOptions: JudgeOptions;
  private state: RolloutState | undefined;
  /** Stable's latency from before the current step's window (judge.ts `baseline`). */
  private baseline: LatencyHistogram | undefined;
  private lastStableLatency: LatencyHistogram | undefined;

  constructor(options: RolloutOptions, signal: AbortSignal) {
    this.o = options;
    this.signal = signal;
    this.clock = options.clock ?? systemClock;
    this.prefix = (options.prefix ?? 'meshless').replace(/^\/+|\/+$/g, '');
    this.stable = options.stable ?? 'stable';
    this.kv = new ConsulKv(options.connection, { timeoutMs: 10_000 });
    this.relativeRoutesKey = `services/${options.service}/routes`;
    this.routesKey = `${this.prefix}/${this.relativeRoutesKey}`;
    this.lock = new SessionLock(
      options.connection,
      stateKey(this.prefix, options.service),
      this.clock,
      options.lock,
    );
    this.history = new RuleHistory(this.kv, this.prefix, this.clock);
    this.judgeOptions = { ...DEFAULT_JUDGE, ...options.judge };
  }

  private log(line: string): void {
    try {
      this.o.log?.(`rollout ${this.o.service}: ${line}`);
    } catch {}
  }

  async run(): Promise<RolloutResult> {
    try {
      return await this.steps();
    } catch (error) {
      const stop =
        error instanceof Stop
          ? error
          : this.signal.aborted
            ? new Stop('stopped', 'stopped')
            : new Stop('failed', (error as Error)?.message ?? String(error));
      if (stop.outcome !== 'stopped' || !this.abandoned) this.log(`${stop.outcome}: ${stop.message}`);
      return { outcome: stop.outcome, reason: stop.message, state: this.state };
    } finally {
      if (this.abandoned) this.lock.abandon();
      else await this.lock.release();
    }
  }

  private async steps(): Promise<RolloutResult> {
    const plan = [...(this.o.plan ?? DEFAULT_PLAN)];
    try {
      checkPlan(plan);
    } catch (error) {
      throw new Stop('refused', `plan ${plan.join(',')}: ${(error as Error).message}`);
    }
    const state = await this.begin(plan);
    await this.readBaseline();
    const maxHolds = Math.max(0, this.o.maxHolds ?? 12);
    const intervalMs = Math.max(1, this.o.intervalMs ?? 5_000);
    // Bounded: each step ends after at most maxHolds + 1 evaluations.
    while (state.step < state.plan.length) {
      const target = state.plan[state.step]!;
      if (state.weight !== target) await this.moveTo(target, `step ${state.step + 1}/${state.plan.length}`);
      if (target === 100) return this.finish('promoted', `canary ${this.o.canary} at 100%: promoted`);
      const stepStart = this.clock.now();
      let holds = 0;
      const lookMs = Math.min(intervalMs, Math.max(1, this.o.judgeEveryMs ?? 1_000));
      for (;;) {
        let verdict: Verdict | undefined;
        // Looks every lookMs on the step's cumulative window; only the last of an interval (or a
        // rollback) is recorded, so the state keeps one decision per interval.
        for (let waited = 0; waited < intervalMs; ) {
          const d = Math.min(lookMs, intervalMs - waited);
          await sleep(d, this.signal, this.clock);
          waited += d;
          this.checkLock();
          await this.checkRoutes();
          const windowMs = Math.min(
            Math.max(lookMs, this.clock.now() - stepStart),
            this.o.maxWindowMs ?? 60_000,
          );
          verdict = await this.evaluate(windowMs);
          if (verdict.decision === 'rollback') break;
        }
        if (!verdict) continue;
        await this.record(verdict);
        if (verdict.decision === 'rollback') {
          await this.rollBack();
          return this.finish('rolled-back', verdict.reason);
        }
        if (verdict.decision === 'promote') {
          this.baseline = this.lastStableLatency ?? this.baseline;
          break;
        }
        if (++holds > maxHolds) {
          await this.pause(`step ${state.step + 1} held ${holds} times: ${verdict.reason}`);
        }
      }
      state.step++;
    }
    return this.finish('promoted', 'plan complete');
  }

  /** Takes the lock and decides between a fresh start and a resume. */
  private async begin(plan: number[]): Promise<RolloutState> {
    const key = stateKey(this.prefix, this.o.service);
    const deadline = this.clock.now() + Math.max(0, this.o.waitForLockMs ?? 0);
    // The state is read under the lock: the acquire writes what was read back unchanged.
    for (let attempt = 0; ; attempt++) {
      const stored = await this.kv.get(key);
      const placeholder = stored?.value ?? Buffer.from('{}');
      if (await this.lock.acquire(`meshless rollout ${this.o.service}`, placeholder.toString('utf8'))) {
        this.log(`lock acquired (session ${this.lock.session})`);
        break;
      }
      if (this.clock.now() >= deadline || attempt > 10_000) {
        throw new Stop('locked', `another controller holds ${key}`);
      }
      await sleep(1_000, this.signal, this.clock);
    }
    const previous = parseState((await this.kv.get(key))?.value);
    const sameRollout = previous && previous.canary === this.o.canary && previous.stable === this.stable;
    if (previous && !this.o.restart) {
      if (previous.status === 'running' || previous.status === 'paused') {
        if (!sameRollout) {
          throw new Stop(
            'refused',
            `a rollout of ${previous.canary} (vs ${previous.stable}) is ${previous.status}; use --restart to replace it`,
          );
        }
        if (previous.status === 'paused' && !this.o.resume) {
          throw new Stop('refused', `paused: ${previous.reason}; run again with --resume (or --restart)`);
        }
        return this.resume(previous);
      }
    }
    const current = await this.readRoutes();
    const weight = current.canaryWeight;
    if (weight === undefined) {
      throw new Stop(
        'refused',
        `${this.routesKey}: the managed routes give ${this.o.canary} different weights`,
      );
    }
    const now = this.clock.wallNow();
    this.state = {
      version: 1,
      service: this.o.service,
      canary: this.o.canary,
      stable: this.stable,
      plan,
      step: 0,
      weight,
      routesIndex: current.index,
      status: 'running',
      reason: 'started',
      startedAt: now,
      updatedAt: now,
      controller: this.lock.session ?? '',
      decisions: [],
    };
    this.log(`started: plan ${plan.join(',')}%, ${this.o.canary} now at ${weight}%`);
    await this.save();
    return this.state;
  }

  private async resume(previous: RolloutState): Promise<RolloutState> {
    this.state = { ...previous, controller: this.lock.session ?? '' };
    if (previous.status === 'paused') {
      // The operator looked and said go on: what is in KV now is accepted as the base.
      const current = await this.readRoutes();
      this.state.routesIndex = current.index;
      this.state.weight = current.canaryWeight ?? -1;
      this.state.status = 'running';
      this.state.reason = 'resumed';
      this.log(
        `resumed after pause at step ${previous.step + 1}, ${this.o.canary} at ${current.canaryWeight}%`,
      );
    } else {
      this.log(`resumed at step ${previous.step + 1} (${this.o.canary} at ${previous.weight}%)`);
      await this.save();
      await this.checkRoutes();
    }
    await this.save();
    return this.state;
  }

  private async readRoutes(): Promise<{ index: number; canaryWeight: number | undefined; value: Buffer }> {
    const entry = await this.kv.get(this.routesKey);
    if (!entry) throw new Stop('refused', `${this.routesKey} does not exist`);
    try {
      const managed = findManagedRoutes(entry.value, this.routesKey, this.stable, this.o.canary);
      return { index: entry.modifyIndex, canaryWeight: managed.canaryWeight, value: entry.value };
    } catch (error) {
      if (error instanceof RouteError) throw new Stop('refused', error.message);
      throw error;
    }
  }

  /** Pauses when the routes changed under us in a way that moved the canary's weight. */
  private async checkRoutes(): Promise<void> {
    const state = this.state!;
    const entry = await this.kv.get(this.routesKey);
    if (entry?.modifyIndex === state.routesIndex) return;
    if (!entry) return this.pause(`${this.routesKey} was deleted`);
    let weight: number | undefined;
    try {
      weight = findManagedRoutes(entry.value, this.routesKey, this.stable, this.o.canary).canaryWeight;
    } catch (error) {
      if (error instanceof RouteError) return this.pause(`edited by someone else: ${error.message}`);
      throw error;
    }
    if (weight !== state.weight) {
      return this.pause(
        `${this.routesKey} edited by someone else (index ${state.routesIndex} -> ${entry.modifyIndex}): ` +
          `${this.o.canary} at ${weight ?? 'mixed'}%, this controller wrote ${state.weight}%`,
      );
    }
    this.log(`${this.routesKey} changed at index ${entry.modifyIndex}, weights untouched: continuing`);
    state.routesIndex = entry.modifyIndex;
  }

  /** One check-and-set write of the canary weight; a lost CAS pauses. */
  private async moveTo(weight: number, what: string): Promise<void> {
    await this.checkRoutes();
    if (!(await this.writeWeight(weight))) {
      return this.pause(`check-and-set on ${this.routesKey} failed: someone wrote it first`);
    }
    this.log(`${what}: ${this.o.canary} at ${weight}% (routes index ${this.state!.routesIndex})`);
    await this.save();
  }

  private async writeWeight(weight: number, force = false): Promise<boolean> {
    const state = this.state!;
    const entry = await this.kv.get(this.routesKey);
    if (!entry) return false;
    if (!force && entry.modifyIndex !== state.routesIndex) return false;
    let managed: ReturnType<typeof findManagedRoutes>;
    try {
      managed = findManagedRoutes(entry.value, this.routesKey, this.stable, this.o.canary);
    } catch (error) {
      if (error instanceof RouteError) return false;
      throw error;
    }
    const bytes = withCanaryWeight(managed, this.stable, this.o.canary, weight);
    await this.history.record(this.relativeRoutesKey, entry, this.o.historyKeep ?? 10);
    if (!(await this.kv.put(this.routesKey, bytes, { cas: entry.modifyIndex }))) return false;
    const after = await this.kv.get(this.routesKey);
    // Someone writing right after us shows as a changed index at the next check.
    state.routesIndex = after && Buffer.compare(after.value, bytes) === 0 ? after.modifyIndex : -1;
    state.weight = weight;
    return true;
  }

  /** Weight 0 at once. Lowering exposure is always safe, so a lost CAS is retried on a fresh read. */
  private async rollBack(): Promise<void> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      if (await this.writeWeight(0, true)) {
        this.log(`rolled back: ${this.o.canary} at 0% (routes index ${this.state!.routesIndex})`);
        return;
      }
    }
    await this.pause(
      `rollback: check-and-set on ${this.routesKey} lost 3 times; set ${this.o.canary} to 0 by hand`,
    );
  }

  private async evaluate(windowMs: number): Promise<Verdict> {
    let windows: Awaited<ReturnType<SignalSource['subsetWindows']>>;
    try {
      windows = await this.o.signals.subsetWindows(
        this.o.service,
        windowMs,
        this.o.caller === undefined ? undefined : { caller: this.o.caller },
      );
    } catch (error) {
      // A source that fails is no evidence either way: hold (bounded by maxHolds).
      this.log(`signals unavailable: ${(error as Error)?.message ?? String(error)}`);
      windows = [];
    }
    this.lastStableLatency = windows.find((w) => w.subset === this.stable)?.latency;
    return judge(windows, this.o.canary, this.stable, this.judgeOptions, this.baseline);
  }

  /** Stable's latency before the first step judged (see RolloutOptions.baselineMs); none on failure. */
  private async readBaseline(): Promise<void> {
    const own = Math.max(0, this.o.baselineMs ?? 2_000);
    if (own === 0) return;
    // Stored samples are read at once: the longer window costs no wait and fills the histogram.
    const windowMs = Math.max(own, this.o.signals.historyMs ?? 0);
    try {
      const windows = await this.o.signals.subsetWindows(
        this.o.service,
        windowMs,
        this.o.caller === undefined ? undefined : { caller: this.o.caller },
      );
      this.baseline = windows.find((w) => w.subset === this.stable)?.latency;
    } catch (error) {
      this.log(`baseline unavailable: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  private async record(v: Verdict): Promise<void> {
    const state = this.state!;
    this.log(
      `step ${state.step + 1}/${state.plan.length} at ${state.weight}%: ${v.decision}: ${v.reason} (${describeFigures(v)})`,
    );
    state.decisions.push({
      at: this.clock.wallNow(),
      step: state.step,
      weight: state.weight,
      decision: v.decision,
      reason: v.reason,
      canary: v.canary,
      stable: v.stable,
      errorPValue: v.errorPValue,
    });
    await this.save();
  }

  private async pause(reason: string): Promise<never> {
    const state = this.state!;
    state.status = 'paused';
    state.reason = reason;
    state.decisions.push({
      at: this.clock.wallNow(),
      step: state.step,
      weight: state.weight,
      decision: 'pause',
      reason,
    });
    this.log(`paused: ${reason}`);
    await this.save();
    throw new Stop('paused', reason);
  }

  private async finish(status: RolloutStatus, reason: string): Promise<RolloutResult> {
    const state = this.state!;
    state.status = status;
    state.reason = reason;
    this.log(`${status}: ${reason}`);
    await this.save();
    return { outcome: status, reason, state };
  }

  private checkLock(): void {
    if (this.lock.lost) throw new Stop('lost-lock', 'the session lock was lost; stopped without writing');
  }

  private async save(): Promise<void> {
    const state = this.state!;
    state.updatedAt = this.clock.wallNow();
    state.decisions = state.decisions.slice(-KEEP_DECISIONS);
    if (!(await this.lock.write(`${JSON.stringify(state, null, 2)}\n`))) {
      throw new Stop('lost-lock', 'the session lock was lost; stopped without writing');
    }
  }
}
