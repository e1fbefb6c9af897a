import { buildFleetView, type ViewFigures } from '../fleet-view/model.ts';
import type { RolloutState } from '../rollout/rollout-state.ts';
import type { FleetSignalsReport } from '../signals/fleet-signals.ts';
import type { ServiceStatus, SyncState } from '../status-model.ts';

/** Figures as the page shows them: quantiles null without requests (NaN is not JSON). */
export interface Figures {
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
  readonly successRate: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/** One row of the per service/version table (as `meshless top`): the fleet view's row. */
export interface ServiceRow extends Figures {
  readonly service: string;
  readonly version: string;
  readonly instances: number;
  readonly answered: number;
  readonly rules: Readonly<Record<SyncState, number>>;
  readonly ejected: number;
  readonly openBreakers: number;
}

/** Caller -> target, every subset summed: the service graph's edges. */
export interface GraphEdge {
  readonly caller: string;
  readonly service: string;
  readonly rps: number;
  readonly requests: number;
  /** errors / requests, 0 without requests. */
  readonly errorShare: number;
}

/** A rollout from its state key, with the canary and stable figures of this reading. */
export interface RolloutView {
  readonly service: string;
  readonly canary: string;
  readonly stable: string;
  readonly status: RolloutState['status'];
  readonly weight: number;
  /** 1-based. */
  readonly step: number;
  readonly steps: number;
  readonly plan: readonly number[];
  readonly reason: string;
  readonly updatedAt: number;
  readonly canaryFigures: Figures | null;
  readonly stableFigures: Figures | null;
}

/** What `GET /api/fleet` answers. */
export interface DashboardView {
  /** Epoch ms of the reading; 0 before the first one. */
  readonly at: number;
  readonly windowMs: number;
  /** How often the server reads the fleet (the page polls at this pace). */
  readonly intervalMs: number;
  readonly rows: readonly ServiceRow[];
  readonly edges: readonly GraphEdge[];
  readonly rollouts: readonly RolloutView[];
  readonly instances: { readonly total: number; readonly failed: number };
  /** Instances that did not answer the signals read (the first few). */
  readonly unanswered: readonly { service: string; id: string; error: string }[];
  /** Why the last reading failed (the previous figures are kept). */
  readonly error: string | null;
}

// The page renders every row; a hostile or huge catalog must not make the answer unbounded.
export const MAX_ROWS = 500;
export const MAX_EDGES = 1000;
export const MAX_ROLLOUTS = 50;
const MAX_UNANSWERED = 50;

const finite = (x: number) => (Number.isFinite(x) ? x : null);

export function figuresOf(f: ViewFigures): Figures {
  return {
    requests: f.requests,
    errors: f.errors,
    rps: f.rps,
    successRate: f.successRate,
    p50: finite(f.p50),
    p95: finite(f.p95),
    p99: finite(f.p99),
  };
}

/**
 * The dashboard's view of one reading: the fleet view (the model `meshless top` shows) made
 * JSON-safe and bounded, its edges summed over subsets for the graph, and each rollout with the
 * canary's and stable's figures of this window (the page keeps the readings for its charts).
 */
export function buildView(
  report: FleetSignalsReport,
  rollouts: readonly RolloutState[],
  statuses: readonly ServiceStatus[],
  intervalMs: number,
): DashboardView {
  const fleet = buildFleetView({ report, rollouts, statuses });
  const rows = fleet.rows.slice(0, MAX_ROWS).map((r) => ({
    service: r.service,
    version: r.version,
    ...figuresOf(r),
    instances: r.instances,
    answered: r.answered,
    rules: r.rules,
    ejected: r.ejected,
    openBreakers: r.openBreakers,
  }));
  const sums = new Map<
    string,
    { caller: string; service: string; rps: number; requests: number; errors: number }
  >();
  for (const e of fleet.edges) {
    const id = `${e.caller}\u0001${e.service}`;
    const sum = sums.get(id) ?? { caller: e.caller, service: e.service, rps: 0, requests: 0, errors: 0 };
    sum.rps += e.rps;
    sum.requests += e.requests;
    sum.errors += e.errors;
    sums.set(id, sum);
  }
  const edges = [...sums.values()]
    .slice(0, MAX_EDGES)
    .map(({ errors, ...e }) => ({ ...e, errorShare: e.requests > 0 ? errors / e.requests : 0 }));
  const subset = (service: string, name: string) => {
    const s = report.subsets.find((x) => x.service === service && x.subset === name);
    return s ? figuresOf(s) : null;
  };
  return {
    at: fleet.at,
    windowMs: fleet.windowMs,
    intervalMs,
    rows,
    edges,
    rollouts: fleet.rollouts.slice(0, MAX_ROLLOUTS).map((r) => ({
      service: r.service,
      canary: r.canary,
      stable: r.stable,
      status: r.status,
      weight: r.weight,
      step: r.step,
      steps: r.steps,
      plan: r.plan,
      reason: r.reason,
      updatedAt: Number.isFinite(r.updatedAt) ? r.updatedAt : 0,
      canaryFigures: subset(r.service, r.canary),
      stableFigures: subset(r.service, r.stable),
    })),
    instances: { total: report.instances.length, failed: fleet.unanswered.length },
    unanswered: fleet.unanswered.slice(0, MAX_UNANSWERED),
    error: null,
  };
}

/** Before the first reading. */
export function emptyView(intervalMs: number, windowMs: number): DashboardView {
  return {
    at: 0,
    windowMs,
    intervalMs,
    rows: [],
    edges: [],
    rollouts: [],
    instances: { total: 0, failed: 0 },
    unanswered: [],
    error: null,
  };
}
