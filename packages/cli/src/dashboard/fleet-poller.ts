import type { ConsulKv } from '@meshless/consul';
import { parseState, type RolloutState } from '../rollout/rollout-state.ts';
import type { FleetSignalsReport } from '../signals/fleet-signals.ts';
import type { ServiceStatus } from '../status-model.ts';
import { buildView, type DashboardView, emptyView, MAX_ROLLOUTS } from './view.ts';

export interface FleetPollerOptions {
  /** One reading of the fleet over `windowMs` (FleetSignals or PrometheusSignals). */
  readonly read: (windowMs: number) => Promise<FleetSignalsReport>;
  /** Where the rollout states live, `<prefix>/_rollout/`. */
  readonly kv: Pick<ConsulKv, 'list'>;
  /** The rule state of these services' instances (SYNCED/STALE/REJECTED); default none. */
  readonly statuses?: (services: readonly string[]) => Promise<readonly ServiceStatus[]>;
  readonly prefix: string;
  readonly intervalMs: number;
  readonly windowMs: number;
  /** Called with each failed reading's message (the loop itself never throws). */
  readonly onError?: (message: string) => void;
}

/**
 * Reads the fleet every `intervalMs` and keeps only the newest view. The HTTP side serves that
 * view and never reads the fleet itself, so a page polling fast (or many pages) costs the fleet
 * nothing extra, and memory is one view whatever the traffic.
 */
export class FleetPoller {
  private view: DashboardView;
  private readonly options: FleetPollerOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(view: DashboardView) => void>();

  constructor(options: FleetPollerOptions) {
    this.options = options;
    this.view = emptyView(options.intervalMs, options.windowMs);
  }

  current(): DashboardView {
    return this.view;
  }

  start(): void {
    if (this.closed || this.running) return;
    this.running = this.tick();
  }

  /** Calls `listener` with each new view (the event stream); returns the unsubscribe. */
  subscribe(listener: (view: DashboardView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves after the next reading ends (tests and the first print). */
  nextReading(): Promise<void> {
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  /** Stops the loop (at once: call it before closing the source a reading waits on). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  private async tick(): Promise<void> {
    const { read, intervalMs } = this.options;
    // The first reading waits one interval, not a whole window (the reader has no baseline yet);
    // later ones span the window, shorter until the reader holds readings that old.
    const windowMs = this.view.at === 0 ? Math.min(intervalMs, this.options.windowMs) : this.options.windowMs;
    try {
      const [report, rollouts] = await Promise.all([read(windowMs), this.rollouts()]);
      const services = [...new Set(report.instances.map((i) => i.service))];
      const statuses = (await this.options.statuses?.(services).catch(() => [])) ?? [];
      this.view = buildView(report, rollouts, statuses, intervalMs);
    } catch (error) {
      const message = String((error as Error)?.message ?? error);
      // Logged once per outage (or change of cause), not at every interval.
      const repeated = this.view.error === message;
      this.view = { ...this.view, error: message };
      try {
        // A reading that close() interrupted did not fail: nothing to report.
        if (!repeated && !this.closed) this.options.onError?.(message);
      } catch {
        // A logger that throws must not end the loop.
      }
    }
    for (const l of this.listeners) {
      try {
        l(this.view);
      } catch {
        // One subscriber's failure is its own; the others and the loop go on.
      }
    }
    for (const w of this.waiters) w();
    this.waiters.clear();
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = this.tick();
    }, intervalMs);
  }

  private async rollouts(): Promise<RolloutState[]> {
    const entries = await this.options.kv.list(`${this.options.prefix}/_rollout/`);
    const states: RolloutState[] = [];
    for (const e of entries) {
      // The key is untrusted: anything that is not a state is left out, not shown half-parsed.
      const state = parseState(e.value ?? undefined);
      if (state) states.push(state);
      if (states.length >= MAX_ROLLOUTS) break;
    }
    return states.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
  }
}
