import { describe, expect, it } from 'vitest';
import { sampleReport, sampleRollout, sampleStatus } from '../fleet-view/fixtures.ts';
import { FleetPoller } from './fleet-poller.ts';
import { buildView } from './view.ts';

describe('dashboard view', () => {
  it('sums the edges over subsets, gives each rollout its canary and stable figures, and is JSON-safe', () => {
    const report = sampleReport();
    const view = buildView(report, [sampleRollout()], [sampleStatus()], 2000);
    expect(view.edges).toEqual([
      { caller: 'gateway', service: 'catalog', rps: 100, requests: 1000, errorShare: 0.005 },
    ]);
    const r = view.rollouts[0]!;
    expect(r).toMatchObject({ service: 'catalog', weight: 25, step: 2, steps: 4 });
    expect(r.canaryFigures).toMatchObject({ requests: 100, errors: 5 });
    expect(r.stableFigures).toMatchObject({ requests: 900, errors: 0 });
    expect(view.rows.find((x) => x.service === 'catalog' && x.version === 'v2')?.rules).toEqual({
      SYNCED: 1,
      STALE: 1,
      REJECTED: 0,
    });
    // A version without traffic: no quantiles (NaN), sent as null and read back the same.
    const gateway = view.rows.find((x) => x.service === 'gateway')!;
    expect(gateway.p99).toBeNull();
    expect(JSON.parse(JSON.stringify(view))).toEqual(view);
  });
});

describe('FleetPoller', () => {
  it('keeps the last good figures with the error when a reading fails, logs each outage once, and goes on reading', async () => {
    let calls = 0;
    const errors: string[] = [];
    const windows: number[] = [];
    const poller = new FleetPoller({
      read: async (windowMs) => {
        windows.push(windowMs);
        if (++calls === 2 || calls === 3) throw new Error('consul down');
        return sampleReport();
      },
      kv: {
        list: async () => [
          {
            key: 'm/_rollout/catalog',
            value: Buffer.from(JSON.stringify(sampleRollout())),
            modifyIndex: 1,
            flags: 0,
          },
          {
            key: 'm/_rollout/junk',
            value: Buffer.from('{"version":1,"<script>":1}'),
            modifyIndex: 2,
            flags: 0,
          },
        ],
      },
      prefix: 'm',
      intervalMs: 20,
      windowMs: 5000,
      onError: (m) => {
        errors.push(m);
        throw new Error('a logger that throws');
      },
    });
    poller.start();
    await poller.nextReading();
    expect(poller.current().rows.length).toBeGreaterThan(0);
    expect(poller.current().rollouts.map((r) => r.service)).toEqual(['catalog']); // junk left out
    await poller.nextReading();
    expect(poller.current().error).toBe('consul down');
    expect(poller.current().rows.length).toBeGreaterThan(0);
    await poller.nextReading(); // the same failure again: not logged twice
    await poller.nextReading();
    expect(poller.current().error).toBeNull();
    await poller.close();
    expect(errors).toEqual(['consul down']);
    // The first reading waits one interval; the rest span the window.
    expect(windows.slice(0, 4)).toEqual([20, 5000, 5000, 5000]);
  });
});
