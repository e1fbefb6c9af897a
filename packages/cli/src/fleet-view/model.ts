// The fleet as `meshless top` and the dashboard show it: one pure function from what the CLI
// reads (the fleet-signals report, the status model per service, the rollout states) to rows.

import type { SignalFigures } from 'meshless/contract';
import type { DecisionRecord, RolloutState, RolloutStatus } from '../rollout/rollout-state.ts';
import type { FleetSignalsReport, FleetTargetHealth } from '../signals/fleet-signals.ts';
import type { ServiceStatus, SyncState } from '../status-model.ts';

/** The figures a row shows (quantiles in ms, NaN without requests). */
export interface ViewFigures {
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
  readonly successRate: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

/** One (service, version): what its instances served, their rule state, and what its callers see of it. */
export interface ServiceVersionRow extends ViewFigures {
  readonly service: string;
  /** The instances' `version` meta ('' without). */
  readonly version: string;
  /** Instances registered with signals, and those that answered the last read. */
  readonly instances: number;
  readonly answered: number;
  /** Rule keys per state, summed over the instances of this version. */
  readonly rules: Readonly<Record<SyncState, number>>;
  /** Endpoints of the service its callers have ejected (outlier detection), summed over callers. */
  readonly ejected: number;
  /** Open circuit breakers its callers hold for the service. */
  readonly openBreakers: number;
}

/** Caller -> service (by subset) as the caller counted it. */
export interface EdgeView extends ViewFigures {
  readonly caller: string;
  readonly service: string;
  readonly subset: string;
  /** Errors / requests on this edge (0 without requests). */
  readonly errorShare: number;
}

export interface RolloutView {
  readonly service: string;
  readonly canary: string;
  readonly stable: string;
  readonly status: RolloutStatus;
  readonly weight: number;
  /** 1-based step and the plan's length. */
  readonly step: number;
  readonly steps: number;
  readonly plan: readonly number[];
  readonly reason: string;
  readonly updatedAt: number;
  readonly last: DecisionRecord | null;
}

export interface FleetView {
  /** Wall clock of the signals read, and its window. */
  readonly at: number;
  readonly windowMs: number;
  /** Sorted by service, then version. */
  readonly rows: readonly ServiceVersionRow[];
  /** Sorted by caller, service, subset. */
  readonly edges: readonly EdgeView[];
  /** Sorted by service. */
  readonly rollouts: readonly RolloutView[];
  /** Instances that did not answer the signals read. */
  readonly unanswered: readonly { service: string; id: string; error: string }[];
}

/** Per caller service: what its instances hold against a target (the report's `targets`). */
export type TargetHealth = FleetTargetHealth;

export interface FleetViewInput {
  readonly report: FleetSignalsReport;
  readonly statuses?: readonly ServiceStatus[];
  readonly rollouts?: readonly RolloutState[];
  /** Only these services' rows (edges to or from them, their rollouts); default all. */
  readonly services?: readonly string[];
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function figures(f: SignalFigures): ViewFigures {
  return {
    requests: f.requests,
    errors: f.errors,
    rps: f.rps,
    successRate: f.successRate,
    p50: f.p50,
    p95: f.p95,
    p99: f.p99,
  };
}

const NO_TRAFFIC: ViewFigures = {
  requests: 0,
  errors: 0,
  rps: 0,
  successRate: 1,
  p50: Number.NaN,
  p95: Number.NaN,
  p99: Number.NaN,
};

export function buildFleetView(input: FleetViewInput): FleetView {
  const { report } = input;
  const only = input.services && input.services.length > 0 ? new Set(input.services) : undefined;
  const wanted = (s: string) => !only || only.has(s);
  const key = (service: string, version: string) => `${service}\u0001${version}`;

  type Acc = {
    service: string;
    version: string;
    figures: ViewFigures;
    instances: number;
    answered: number;
    rules: Record<SyncState, number>;
  };
  const rows = new Map<string, Acc>();
  const row = (service: string, version: string): Acc => {
    let r = rows.get(key(service, version));
    if (!r) {
      r = {
        service,
        version,
        figures: NO_TRAFFIC,
        instances: 0,
        answered: 0,
        rules: { SYNCED: 0, STALE: 0, REJECTED: 0 },
      };
      rows.set(key(service, version), r);
    }
    return r;
  };

  // Instances first: a version that served nothing in the window still gets its row.
  const versionOf = new Map<string, { service: string; version: string }>();
  for (const i of report.instances) {
    versionOf.set(i.id, { service: i.service, version: i.version });
    if (!wanted(i.service)) continue;
    const r = row(i.service, i.version);
    r.instances++;
    if (i.ok) r.answered++;
  }
  for (const s of report.services) if (wanted(s.service)) row(s.service, s.version).figures = figures(s);

  // Rule state: each instance's keys once (an instance appears in the status of each service it
  // calls). Only instances the signals read found: a status lists callers too, of any service.
  const seen = new Set<string>();
  for (const status of input.statuses ?? []) {
    for (const inst of status.instances) {
      const who = versionOf.get(inst.id);
      if (!who || !wanted(who.service)) continue;
      const r = row(who.service, who.version);
      for (const k of inst.keys) {
        const id = `${inst.id}\u0001${k.key}`;
        if (seen.has(id)) continue;
        seen.add(id);
        r.rules[k.state]++;
      }
    }
  }

  // Ejections and breakers are held by the callers, per target service: shown on each of its rows.
  const held = new Map<string, { ejected: number; openBreakers: number }>();
  for (const t of report.targets ?? []) {
    const h = held.get(t.service) ?? { ejected: 0, openBreakers: 0 };
    h.ejected += t.ejected;
    h.openBreakers += t.openBreakers;
    held.set(t.service, h);
  }

  const outRows = [...rows.values()]
    .map(
      (r): ServiceVersionRow => ({
        service: r.service,
        version: r.version,
        ...r.figures,
        instances: r.instances,
        answered: r.answered,
        rules: r.rules,
        ejected: held.get(r.service)?.ejected ?? 0,
        openBreakers: held.get(r.service)?.openBreakers ?? 0,
      }),
    )
    .sort((a, b) => cmp(a.service, b.service) || cmp(a.version, b.version));

  const edges = report.edges
    .filter((e) => wanted(e.caller) || wanted(e.service))
    .map(
      (e): EdgeView => ({
        caller: e.caller,
        service: e.service,
        subset: e.subset,
        ...figures(e),
        errorShare: e.requests > 0 ? e.errors / e.requests : 0,
      }),
    )
    .sort((a, b) => cmp(a.caller, b.caller) || cmp(a.service, b.service) || cmp(a.subset, b.subset));

  const rollouts = (input.rollouts ?? [])
    .filter((s) => wanted(s.service))
    .map(
      (s): RolloutView => ({
        service: s.service,
        canary: s.canary,
        stable: s.stable,
        status: s.status,
        weight: s.weight,
        step: Math.min(s.step + 1, s.plan.length),
        steps: s.plan.length,
        plan: s.plan,
        reason: s.reason,
        updatedAt: s.updatedAt,
        last: s.decisions.length > 0 ? s.decisions[s.decisions.length - 1]! : null,
      }),
    )
    .sort((a, b) => cmp(a.service, b.service));

  const unanswered = report.instances
    .filter((i) => !i.ok && wanted(i.service))
    .map((i) => ({ service: i.service, id: i.id, error: i.error ?? '' }))
    .sort((a, b) => cmp(a.service, b.service) || cmp(a.id, b.id));

  return { at: report.at, windowMs: report.windowMs, rows: outRows, edges, rollouts, unanswered };
}
