// Fixed inputs for the fleet view's unit tests (the model and the rendering).
import type { SignalFigures } from 'meshless/contract';
import type { RolloutState } from '../rollout/rollout-state.ts';
import type { FleetSignalsReport } from '../signals/fleet-signals.ts';
import type { InstanceStatus, ServiceStatus, SyncState } from '../status-model.ts';
import type { TargetHealth } from './model.ts';

export function fig(
  requests: number,
  errors: number,
  rps: number,
  p50 = 2,
  p95 = 8,
  p99 = 12,
): SignalFigures {
  return {
    requests,
    errors,
    rps,
    successRate: requests === 0 ? 1 : 1 - errors / requests,
    p50,
    p95,
    p99,
    latency: { bounds: [1, 10], counts: [0, requests, 0] },
  };
}

export function sampleReport(targets?: TargetHealth[]): FleetSignalsReport {
  return {
    at: 1_800_000_000_000,
    windowMs: 10_000,
    instances: [
      { service: 'gateway', id: 'gw-1', version: '', url: 'http://127.0.0.1:1/meshless/signals', ok: true },
      {
        service: 'catalog',
        id: 'cat-1',
        version: 'v1',
        url: 'http://127.0.0.1:2/meshless/signals',
        ok: true,
      },
      {
        service: 'catalog',
        id: 'cat-2',
        version: 'v2',
        url: 'http://127.0.0.1:3/meshless/signals',
        ok: true,
      },
      {
        service: 'catalog',
        id: 'cat-3',
        version: 'v2',
        url: 'http://127.0.0.1:4/meshless/signals',
        ok: false,
        error: 'timeout',
      },
    ],
    subsets: [
      { service: 'catalog', subset: 'v1', ...fig(900, 0, 90) },
      { service: 'catalog', subset: 'v2', ...fig(100, 5, 10) },
    ],
    edges: [
      { caller: 'gateway', service: 'catalog', subset: 'v2', ...fig(100, 5, 10) },
      { caller: 'gateway', service: 'catalog', subset: 'v1', ...fig(900, 0, 90) },
    ],
    services: [
      { service: 'catalog', version: 'v2', ...fig(100, 5, 10, 3, 20, 40) },
      { service: 'catalog', version: 'v1', ...fig(900, 0, 90) },
    ],
    ...(targets ? { targets } : {}),
  };
}

function inst(id: string, states: SyncState[]): InstanceStatus {
  return {
    id,
    node: 'n1',
    address: '127.0.0.1:1',
    health: 'passing',
    governance: 'passing',
    reported: true,
    truncated: false,
    keys: states.map((state, i) => ({
      key: `meshless/services/catalog/k${i}`,
      kvIndex: 5,
      applied: state === 'SYNCED' ? 5 : 4,
      state,
      detail: '',
      rejected: null,
    })),
  };
}

export function sampleStatus(): ServiceStatus {
  return {
    service: 'catalog',
    prefix: 'meshless',
    keys: [],
    // gw-1 is a caller: its keys count on the gateway's row.
    instances: [
      inst('cat-1', ['SYNCED', 'SYNCED']),
      inst('cat-2', ['SYNCED', 'STALE']),
      inst('gw-1', ['REJECTED']),
    ],
    totals: { SYNCED: 3, STALE: 1, REJECTED: 1 },
  };
}

export function sampleRollout(): RolloutState {
  return {
    version: 1,
    service: 'catalog',
    canary: 'v2',
    stable: 'v1',
    plan: [5, 25, 50, 100],
    step: 1,
    weight: 25,
    routesIndex: 40,
    status: 'running',
    reason: '',
    startedAt: 1_799_999_990_000,
    updatedAt: 1_799_999_999_000,
    controller: 'sess',
    decisions: [
      { at: 1_799_999_995_000, step: 0, weight: 5, decision: 'promote', reason: 'within margin' },
      { at: 1_799_999_999_000, step: 1, weight: 25, decision: 'hold', reason: 'too few requests' },
    ],
  };
}
