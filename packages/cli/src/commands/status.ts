import type { ConsulConnection } from '@meshless/consul';
import { ConsulError } from '@meshless/core';
import { GOVERNANCE_CHECK_NAME, parseGovernanceReport } from 'meshless/contract';
import { type Command, noMorePositionals } from '../command.ts';
import { EXIT, usageError } from '../exit-codes.ts';
import { readServiceRollout } from '../rollout/read-rollout-state.ts';
import { formatRolloutStatus, rolloutStatusJson } from '../rollout/rollout-status-view.ts';
import type { ConsulSession } from '../session.ts';
import {
  buildServiceStatus,
  type HealthEntry,
  reportedKeys,
  reportOf,
  type ServiceStatus,
} from '../status-model.ts';
import { formatTable } from '../table.ts';

export const statusCommand: Command = {
  name: 'status',
  usage: '<service>',
  summary:
    'show which rule versions each instance of a service runs (SYNCED, STALE, REJECTED), and its rollout',
  async run(ctx) {
    const [service, ...rest] = ctx.positionals;
    noMorePositionals(rest);
    if (!service) throw usageError('missing service name');
    if (service.includes('/')) throw usageError(`invalid service name ${service}: must not contain /`);
    const session = ctx.consul();
    const [rules, rollout] = await Promise.all([
      readServiceStatus(session, service, ctx.prefix),
      readServiceRollout(session, ctx.prefix, service),
    ]);
    // The exit code stays that of the rules read: a paused or rolled-back rollout is shown, not failed on.
    const status: ServiceStatus = rollout
      ? { ...rules, rollout: rolloutStatusJson(service, ctx.prefix, rollout) }
      : rules;
    if (ctx.json) ctx.io.json(status);
    else printStatus(ctx.io.out, status);
    return EXIT.ok;
  },
};

/** The status model of `service` from the agent's health and KV (what `meshless status` prints; `top` uses it). */
export async function readServiceStatus(
  session: Pick<ConsulSession, 'connection' | 'kv'>,
  service: string,
  prefix: string,
): Promise<ServiceStatus> {
  const { connection, kv } = session;

  const res = await connection.request({
    path: `/v1/health/service/${encodeURIComponent(service)}`,
    timeoutMs: 10_000,
  });
  if (res.status !== 200) {
    throw new ConsulError(`GET /v1/health/service/${service}: HTTP ${res.status}`, { status: res.status });
  }
  const entries = [
    ...(JSON.parse(res.body.toString('utf8')) as HealthEntry[]),
    ...(await callerEntries(connection, service, prefix)),
  ];

  // The keys that apply to the service, plus whatever its instances report having applied.
  const kvIndexes = new Map<string, number>();
  for (const e of await kv.list(`${prefix}/services/${service}/`)) kvIndexes.set(e.key, e.modifyIndex);
  const extra = [`${prefix}/defaults/policies`, ...reportedKeys(entries)].filter((k) => !kvIndexes.has(k));
  const found = await Promise.all(extra.map((k) => kv.get(k)));
  for (const e of found) if (e) kvIndexes.set(e.key, e.modifyIndex);

  return buildServiceStatus(service, prefix, entries, kvIndexes);
}

interface CheckEntry {
  readonly Name?: string;
  readonly ServiceName?: string;
  readonly Output?: string;
}

/**
 * The instances of other services that call `service`: the service's routes, balancer and
 * policies are applied there, not on the service's own instances. Found from every instance's
 * governance report (`uses.calls`), one listing of all checks.
 */
async function callerEntries(
  connection: ConsulConnection,
  service: string,
  prefix: string,
): Promise<HealthEntry[]> {
  const res = await connection.request({ path: '/v1/health/state/any', timeoutMs: 10_000 });
  if (res.status !== 200) return [];
  const callers = new Set<string>();
  for (const check of JSON.parse(res.body.toString('utf8')) as CheckEntry[]) {
    if (check.Name !== GOVERNANCE_CHECK_NAME || !check.ServiceName || check.ServiceName === service) continue;
    const report = parseGovernanceReport(check.Output ?? '');
    if (!report?.uses?.calls.includes(service)) continue;
    const keys = Object.keys(report.keys);
    if (keys.length === 0 || keys.some((k) => k.startsWith(`${prefix}/`))) callers.add(check.ServiceName);
  }
  const out: HealthEntry[] = [];
  for (const caller of [...callers].sort()) {
    const r = await connection.request({
      path: `/v1/health/service/${encodeURIComponent(caller)}`,
      timeoutMs: 10_000,
    });
    if (r.status !== 200) continue;
    for (const entry of JSON.parse(r.body.toString('utf8')) as HealthEntry[])
      if (reportOf(entry)?.uses?.calls.includes(service)) out.push(entry);
  }
  return out;
}

function printStatus(out: (line: string) => void, status: ServiceStatus): void {
  const short = (key: string) =>
    key.startsWith(`${status.prefix}/`) ? key.slice(status.prefix.length + 1) : key;
  const n = status.instances.length;
  out(
    `service ${status.service}: ${n} instance${n === 1 ? '' : 's'}, ${status.keys.length} rule keys (prefix ${status.prefix})`,
  );
  if (status.keys.length > 0) {
    out('');
    const rows = status.keys.map((k) => [short(k.key), k.kvIndex === null ? 'absent' : String(k.kvIndex)]);
    for (const line of formatTable(['KEY', 'KV INDEX'], rows)) out(line);
  }
  out('');
  if (n === 0) out(`no instances of ${status.service} are registered`);
  else printInstances(out, status, short);
  if (status.rollout) {
    out('');
    for (const line of formatRolloutStatus(status.service, status.prefix, status.rollout)) out(line);
  }
}

function printInstances(
  out: (line: string) => void,
  status: ServiceStatus,
  short: (key: string) => string,
): void {
  const rows: string[][] = [];
  for (const i of status.instances) {
    if (i.keys.length === 0) {
      rows.push([
        i.id,
        i.address,
        i.health,
        i.governance,
        '-',
        '-',
        '-',
        'SYNCED',
        'no rules: built-in defaults',
      ]);
      continue;
    }
    for (const k of i.keys) {
      rows.push([
        i.id,
        i.address,
        i.health,
        i.governance,
        short(k.key),
        k.kvIndex === null ? 'absent' : String(k.kvIndex),
        k.applied === null ? '-' : String(k.applied),
        k.state,
        k.detail,
      ]);
    }
  }
  const header = ['INSTANCE', 'ADDRESS', 'HEALTH', 'GOVERNANCE', 'KEY', 'KV', 'APPLIED', 'STATE', 'DETAIL'];
  for (const line of formatTable(header, rows)) out(line);
  out('');
  out(`SYNCED ${status.totals.SYNCED}, STALE ${status.totals.STALE}, REJECTED ${status.totals.REJECTED}`);
}
