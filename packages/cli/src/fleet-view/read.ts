// One refresh of the fleet view: the signals over the window, each service's rule status, the
// rollout states in KV. Shared by `meshless top` and the dashboard.

import { readServiceStatus } from '../commands/status.ts';
import { parseState, type RolloutState } from '../rollout/rollout-state.ts';
import type { ConsulSession } from '../session.ts';
import type { FleetSignalsReport } from '../signals/fleet-signals.ts';
import type { ServiceStatus } from '../status-model.ts';
import { buildFleetView, type FleetView } from './model.ts';

/** What the view reads signals from: FleetSignals or PrometheusSignals. */
export interface FleetReportSource {
  read(windowMs: number, services?: readonly string[]): Promise<FleetSignalsReport>;
}

/** Services whose rule status one refresh reads (each costs a few Consul requests). */
export const MAX_STATUS_SERVICES = 50;
/** Rollout states read per refresh. */
const MAX_ROLLOUTS = 100;

export interface ReadFleetViewOptions {
  readonly source: FleetReportSource;
  readonly session: Pick<ConsulSession, 'connection' | 'kv'>;
  readonly prefix: string;
  readonly windowMs: number;
  /** Show only these services (default all the source finds); every instance is read still. */
  readonly services?: readonly string[];
}

export async function readFleetView(o: ReadFleetViewOptions): Promise<FleetView> {
  const only = o.services && o.services.length > 0 ? o.services : undefined;
  // The whole fleet even when services are named: their callers hold the edges to them, the
  // ejections and the open breakers; the model keeps only the rows of the named ones.
  const report = await o.source.read(o.windowMs);
  const names = only ?? [
    ...new Set([...report.instances.map((i) => i.service), ...report.services.map((s) => s.service)]),
  ];
  const [statuses, rollouts] = await Promise.all([
    readRuleStatuses(o.session, o.prefix, names),
    readRollouts(o.session, o.prefix),
  ]);
  return buildFleetView({
    report,
    statuses,
    rollouts,
    ...(only ? { services: only } : {}),
  });
}

/**
 * The rule status of the first MAX_STATUS_SERVICES of `services` (what `meshless status` reads;
 * top and the dashboard count it per version). A service whose status cannot be read is left
 * out, showing no rule state rather than failing the refresh.
 */
export async function readRuleStatuses(
  session: Pick<ConsulSession, 'connection' | 'kv'>,
  prefix: string,
  services: readonly string[],
): Promise<ServiceStatus[]> {
  const statuses = await Promise.all(
    services
      .slice(0, MAX_STATUS_SERVICES)
      .map((s) => readServiceStatus(session, s, prefix).catch(() => undefined)),
  );
  return statuses.filter((s): s is ServiceStatus => s !== undefined);
}

/** The rollout states under `<prefix>/_rollout/` (unreadable ones skipped: the key is untrusted). */
export async function readRollouts(
  session: Pick<ConsulSession, 'kv'>,
  prefix: string,
): Promise<RolloutState[]> {
  const entries = await session.kv.list(`${prefix}/_rollout/`);
  const out: RolloutState[] = [];
  for (const e of entries.slice(0, MAX_ROLLOUTS)) {
    const state = parseState(e.value);
    if (state) out.push(state);
  }
  return out;
}
