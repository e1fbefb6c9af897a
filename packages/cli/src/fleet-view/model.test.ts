import { describe, expect, it } from 'vitest';
import type { ServiceStatus } from '../status-model.ts';
import { sampleReport, sampleRollout, sampleStatus } from './fixtures.ts';
import { buildFleetView } from './model.ts';

describe('buildFleetView', () => {
  it('one row per service and version, sorted, with served figures, instances and rule states', () => {
    const view = buildFleetView({ report: sampleReport(), statuses: [sampleStatus()] });
    expect(view.rows.map((r) => [r.service, r.version])).toEqual([
      ['catalog', 'v1'],
      ['catalog', 'v2'],
      ['gateway', ''],
    ]);
    const [v1, v2, gw] = view.rows;
    expect(v1).toMatchObject({ rps: 90, requests: 900, successRate: 1, instances: 1, answered: 1 });
    expect(v1!.rules).toEqual({ SYNCED: 2, STALE: 0, REJECTED: 0 });
    expect(v2).toMatchObject({ rps: 10, errors: 5, p50: 3, p95: 20, p99: 40, instances: 2, answered: 1 });
    expect(v2!.successRate).toBeCloseTo(0.95, 10);
    expect(v2!.rules).toEqual({ SYNCED: 1, STALE: 1, REJECTED: 0 });
    // The gateway served nothing in the window: a row without traffic, its rejected key shown.
    expect(gw).toMatchObject({ requests: 0, rps: 0, successRate: 1, instances: 1 });
    expect(Number.isNaN(gw!.p99)).toBe(true);
    expect(gw!.rules).toEqual({ SYNCED: 0, STALE: 0, REJECTED: 1 });
    expect(view.unanswered).toEqual([{ service: 'catalog', id: 'cat-3', error: 'timeout' }]);
  });

  it('counts an instance key once when the instance appears in several services’ status', () => {
    const status = sampleStatus();
    const again: ServiceStatus = { ...status, service: 'other' };
    const view = buildFleetView({ report: sampleReport(), statuses: [status, again] });
    expect(view.rows.find((r) => r.service === 'gateway')!.rules.REJECTED).toBe(1);
    expect(view.rows.find((r) => r.version === 'v1')!.rules.SYNCED).toBe(2);
  });

  it('leaves out the rule state of instances the signals read did not find (callers of other services)', () => {
    const status = sampleStatus();
    const stranger = { ...status.instances[0]!, id: 'billing-1' };
    const view = buildFleetView({
      report: sampleReport(),
      statuses: [{ ...status, instances: [...status.instances, stranger] }],
    });
    expect(view.rows.map((r) => `${r.service}/${r.version}`)).toEqual([
      'catalog/v1',
      'catalog/v2',
      'gateway/',
    ]);
    expect(view.rows[0]!.rules.SYNCED).toBe(2);
  });

  it('sums the ejections and open breakers the callers hold for a service onto its rows', () => {
    const view = buildFleetView({
      report: sampleReport([
        { caller: 'gateway', service: 'catalog', ejected: 1, openBreakers: 2 },
        { caller: 'admin', service: 'catalog', ejected: 1, openBreakers: 0 },
      ]),
    });
    for (const r of view.rows.filter((x) => x.service === 'catalog')) {
      expect([r.ejected, r.openBreakers]).toEqual([2, 2]);
    }
    expect(view.rows.find((r) => r.service === 'gateway')).toMatchObject({ ejected: 0, openBreakers: 0 });
  });

  it('edges sorted with their error share; rollouts with step, weight and last decision', () => {
    const view = buildFleetView({ report: sampleReport(), rollouts: [sampleRollout()] });
    expect(view.edges.map((e) => [e.caller, e.service, e.subset, e.rps, e.errorShare])).toEqual([
      ['gateway', 'catalog', 'v1', 90, 0],
      ['gateway', 'catalog', 'v2', 10, 0.05],
    ]);
    expect(view.rollouts).toHaveLength(1);
    expect(view.rollouts[0]).toMatchObject({
      service: 'catalog',
      canary: 'v2',
      weight: 25,
      step: 2,
      steps: 4,
      status: 'running',
      last: { decision: 'hold', reason: 'too few requests' },
    });
  });

  it('only the services asked for (edges touching them)', () => {
    const view = buildFleetView({
      report: sampleReport(),
      statuses: [sampleStatus()],
      rollouts: [sampleRollout()],
      services: ['gateway'],
    });
    expect(view.rows.map((r) => r.service)).toEqual(['gateway']);
    expect(view.edges).toHaveLength(2);
    expect(view.rollouts).toHaveLength(0);
    expect(view.unanswered).toHaveLength(0);
  });
});
