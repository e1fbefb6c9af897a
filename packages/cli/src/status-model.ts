import {
  GOVERNANCE_CHECK_NAME,
  type GovernanceRejection,
  type GovernanceReport,
  governanceCheckId,
  keyAffects,
  parseGovernanceReport,
} from 'meshless/contract';
import type { RolloutStatusJson } from './rollout/rollout-status-view.ts';

/** Where an instance stands on one key, like `istioctl proxy-status`. */
export type SyncState = 'SYNCED' | 'STALE' | 'REJECTED';

/** The parts of `/v1/health/service/<svc>` entries that status reads. */
export interface HealthEntry {
  readonly Node?: { readonly Node?: string; readonly Address?: string };
  readonly Service: {
    readonly ID: string;
    readonly Service: string;
    readonly Address?: string;
    readonly Port?: number;
  };
  readonly Checks?: readonly {
    readonly CheckID: string;
    readonly Name?: string;
    readonly Status: string;
    readonly Output?: string;
    readonly ServiceID?: string;
  }[];
}

export interface InstanceKeyState {
  readonly key: string;
  /** ModifyIndex in KV now; null when the key is not in KV (deleted, or only reported). */
  readonly kvIndex: number | null;
  /** Index the instance has in force; null for none (defaults) or not reported. */
  readonly applied: number | null;
  readonly state: SyncState;
  /** Why, for STALE and REJECTED. */
  readonly detail: string;
  readonly rejected: GovernanceRejection | null;
}

export interface InstanceStatus {
  readonly id: string;
  readonly node: string;
  readonly address: string;
  /** Worst status of the instance's other checks (node checks included). */
  readonly health: string;
  /** Status of the governance check, or `missing`. */
  readonly governance: string;
  readonly reported: boolean;
  readonly truncated: boolean;
  readonly keys: readonly InstanceKeyState[];
}

export interface ServiceStatus {
  readonly service: string;
  readonly prefix: string;
  readonly keys: readonly { readonly key: string; readonly kvIndex: number | null }[];
  readonly instances: readonly InstanceStatus[];
  readonly totals: Readonly<Record<SyncState, number>>;
  /** The service's rollout state (`meshless status` only; absent when there is none). */
  readonly rollout?: RolloutStatusJson;
}

type Check = NonNullable<HealthEntry['Checks']>[number];

/** The instance's governance check: by CheckID, else by name. */
export function governanceCheckOf(entry: HealthEntry): Check | undefined {
  const checks = entry.Checks ?? [];
  const id = governanceCheckId(entry.Service.ID);
  return (
    checks.find((c) => c.CheckID === id) ??
    checks.find((c) => c.ServiceID === entry.Service.ID && c.Name === GOVERNANCE_CHECK_NAME)
  );
}

export function reportOf(entry: HealthEntry): GovernanceReport | undefined {
  const output = governanceCheckOf(entry)?.Output;
  return output === undefined ? undefined : parseGovernanceReport(output);
}

/** Every key some instance reports (they may apply keys of other services they call). */
export function reportedKeys(entries: readonly HealthEntry[]): string[] {
  const keys = new Set<string>();
  for (const entry of entries) for (const key of Object.keys(reportOf(entry)?.keys ?? {})) keys.add(key);
  return [...keys];
}

const severity: Record<string, number> = { passing: 0, warning: 1, critical: 2 };

/**
 * Compares what each instance reports against KV. `kvIndexes` holds the ModifyIndex of every
 * relevant key present in KV; keys only reported by instances are listed too.
 */
export function buildServiceStatus(
  service: string,
  prefix: string,
  entries: readonly HealthEntry[],
  kvIndexes: ReadonlyMap<string, number>,
): ServiceStatus {
  const allKeys = [...new Set([...kvIndexes.keys(), ...reportedKeys(entries)])].sort();
  const totals: Record<SyncState, number> = { SYNCED: 0, STALE: 0, REJECTED: 0 };
  const instances = [...entries]
    .sort((a, b) => (a.Service.ID < b.Service.ID ? -1 : a.Service.ID > b.Service.ID ? 1 : 0))
    .map((entry): InstanceStatus => {
      const check = governanceCheckOf(entry);
      const report = check?.Output === undefined ? undefined : parseGovernanceReport(check.Output);
      let health = 'passing';
      for (const c of entry.Checks ?? []) {
        if (c === check) continue;
        if ((severity[c.Status] ?? 2) > (severity[health] ?? 0)) health = c.Status;
      }
      // An instance that says what it uses is shown only the keys that affect it (a caller of
      // the service: the service's routes, balancer and policies; the service itself: its inbound).
      const uses = report?.uses;
      const affects = (key: string) =>
        !uses ||
        report?.keys[key] !== undefined ||
        (key.startsWith(`${prefix}/`) &&
          keyAffects(key.slice(prefix.length + 1), entry.Service.Service, uses));
      const keys = allKeys.filter(affects).map((key) => {
        const state = keyState(key, kvIndexes.get(key) ?? null, report, check?.Status);
        totals[state.state]++;
        return state;
      });
      const port = entry.Service.Port ? `:${entry.Service.Port}` : '';
      return {
        id: entry.Service.ID,
        node: entry.Node?.Node ?? '',
        address: `${entry.Service.Address || entry.Node?.Address || ''}${port}`,
        health,
        governance: check?.Status ?? 'missing',
        reported: report !== undefined,
        truncated: report?.truncated === true,
        keys,
      };
    });
  return {
    service,
    prefix,
    keys: allKeys.map((key) => ({ key, kvIndex: kvIndexes.get(key) ?? null })),
    instances,
    totals,
  };
}

function keyState(
  key: string,
  kvIndex: number | null,
  report: GovernanceReport | undefined,
  checkStatus: string | undefined,
): InstanceKeyState {
  const base = { key, kvIndex };
  if (!report) {
    const why =
      checkStatus === undefined
        ? 'no governance check'
        : checkStatus === 'critical'
          ? 'governance check critical (instance not reporting)'
          : 'no governance report';
    return { ...base, applied: null, state: 'STALE', detail: why, rejected: null };
  }
  const r = report.keys[key];
  const applied = r?.applied ?? null;
  const rejected = r?.rejected ?? null;
  if (kvIndex === null) {
    // Deleted in KV: in sync once the instance holds nothing for it.
    if (applied === null && rejected === null)
      return { ...base, applied, state: 'SYNCED', detail: '', rejected };
    return { ...base, applied, state: 'STALE', detail: 'deleted in KV, still held here', rejected };
  }
  if (rejected && rejected.index === kvIndex) {
    const kept = applied === null ? 'defaults apply' : `${applied} stays in force`;
    return { ...base, applied, state: 'REJECTED', detail: `${rejected.message} (${kept})`, rejected };
  }
  if (applied === kvIndex) return { ...base, applied, state: 'SYNCED', detail: '', rejected };
  const detail =
    r === undefined
      ? report.truncated
        ? 'not in the report (report truncated)'
        : 'not reported'
      : rejected
        ? `last saw ${rejected.index} (rejected)`
        : applied !== null && applied > kvIndex
          ? 'applied index ahead of KV (Consul data reset?)'
          : 'not yet applied';
  return { ...base, applied, state: 'STALE', detail, rejected };
}
