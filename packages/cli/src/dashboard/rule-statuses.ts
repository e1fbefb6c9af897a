import type { ConsulConnection, ConsulKv } from '@meshless/consul';
import { buildServiceStatus, type HealthEntry, reportedKeys, type ServiceStatus } from '../status-model.ts';

// A reading every few seconds: the rule state of this many services at most (two requests each).
export const MAX_STATUS_SERVICES = 50;
const TIMEOUT_MS = 5000;

/**
 * The rule state of each service's own instances (what `meshless status` shows, without the
 * callers' view of the service): its health entries' governance reports against KV. A service
 * that cannot be read is left out; the others still count.
 */
export async function readRuleStatuses(
  connection: ConsulConnection,
  kv: Pick<ConsulKv, 'list' | 'get'>,
  prefix: string,
  services: readonly string[],
): Promise<ServiceStatus[]> {
  const names = [...new Set(services)].sort().slice(0, MAX_STATUS_SERVICES);
  const out = await Promise.all(
    names.map(async (service) => {
      try {
        const res = await connection.request({
          path: `/v1/health/service/${encodeURIComponent(service)}`,
          timeoutMs: TIMEOUT_MS,
        });
        if (res.status !== 200) return undefined;
        const body = JSON.parse(res.body.toString('utf8')) as unknown;
        if (!Array.isArray(body)) return undefined;
        const entries = body.filter(
          (e): e is HealthEntry => typeof (e as HealthEntry)?.Service?.ID === 'string',
        );
        const kvIndexes = new Map<string, number>();
        for (const e of await kv.list(`${prefix}/services/${service}/`)) kvIndexes.set(e.key, e.modifyIndex);
        // Keys of other services the instances apply (the services they call), capped per service.
        const extra = reportedKeys(entries)
          .filter((k) => !kvIndexes.has(k) && k.startsWith(`${prefix}/`))
          .slice(0, 50);
        for (const e of await Promise.all(extra.map((k) => kv.get(k))))
          if (e) kvIndexes.set(e.key, e.modifyIndex);
        return buildServiceStatus(service, prefix, entries, kvIndexes);
      } catch {
        return undefined;
      }
    }),
  );
  return out.filter((s): s is ServiceStatus => s !== undefined);
}
