import { TimeoutError } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { MAX_SIGNAL_ROWS, SIGNALS_FORMAT } from './golden-signals.ts';
import { MeshMetrics } from './mesh-metrics.ts';
import { outcomeOf } from './outcome.ts';

describe('MeshMetrics.signals(): the golden signals from the metrics cells', () => {
  it('sums methods per (target, subset), splits outcomes, and keeps per-bucket latency counts in ms', () => {
    const m = new MeshMetrics({ buckets: [0.01, 0.1, 1] });
    const get = m.clientCall('catalog', 'GET', 'stable');
    const post = m.clientCall('catalog', 'POST', 'stable');
    const canary = m.clientCall('catalog', 'GET', 'canary');
    get.record('success', 0.005);
    get.record('success', 0.05);
    post.record(outcomeOf(new TimeoutError('catalog', 1000)), 2);
    canary.record(outcomeOf(undefined, 503), 0.5);
    canary.record(outcomeOf(undefined, 404), 0.001);

    const s = m.signals({ service: 'gateway', version: 'v1', instance: 'gw-1' });
    expect(s).toMatchObject({
      format: SIGNALS_FORMAT,
      service: 'gateway',
      version: 'v1',
      instance: 'gw-1',
      seq: 1,
    });
    expect(s.boundsMs).toEqual([10, 100, 1000]);
    const stable = s.outbound.find((r) => r.subset === 'stable')!;
    expect(stable).toMatchObject({ target: 'catalog', requests: 3, outcomes: { success: 2, timeout: 1 } });
    expect(stable.latency).toEqual([1, 1, 0, 1]);
    expect(stable.sumMs).toBeCloseTo(2055, 3);
    const c = s.outbound.find((r) => r.subset === 'canary')!;
    expect(c).toMatchObject({ requests: 2, outcomes: { error: 1, client_error: 1 }, latency: [1, 0, 1, 0] });
    expect(m.signals().seq).toBe(2); // monotonic per answer
  });

  it('lists the services called with ejected endpoints or open breakers now, and drops them when they recover', () => {
    const m = new MeshMetrics();
    expect(m.signals().targets).toEqual([]);
    m.service('catalog').endpoints(2, 1);
    m.breakerState('catalog', 'open', '10.0.0.1:80');
    m.breakerState('catalog', 'open', '10.0.0.2:80');
    m.breakerState('catalog', 'half-open', '10.0.0.3:80');
    m.breakerState('users', 'open');
    m.service('search').endpoints(3, 0);
    const s = m.signals();
    expect(s.targets).toEqual([
      { target: 'catalog', ejected: 1, openBreakers: 2 },
      { target: 'users', ejected: 0, openBreakers: 1 },
    ]);
    expect(JSON.parse(JSON.stringify(s)).targets).toHaveLength(2);
    m.service('catalog').endpoints(3, 0);
    m.breakerState('catalog', 'closed', '10.0.0.1:80');
    m.breakerRemoved('catalog', '10.0.0.2:80');
    m.breakerState('users', 'half-open');
    expect(m.signals().targets).toEqual([]);
  });

  it('reports inbound requests by status class, with shed requests by reason', () => {
    const m = new MeshMetrics({ buckets: [0.01, 0.1] });
    m.serverCall('catalog', 'GET').record(200, 0.002);
    m.serverCall('catalog', 'GET').record(503, 0.2);
    m.serverCall('catalog', 'PUT').record(429, 0.001);
    m.serverService('catalog').rejected('rate_limited');
    const s = m.signals();
    expect(s.service).toBeNull();
    expect(s.inbound).toEqual([
      {
        service: 'catalog',
        requests: 3,
        statuses: { '2xx': 1, '5xx': 1, '4xx': 1 },
        rejected: { rate_limited: 1 },
        latency: [2, 0, 1],
        sumMs: 203,
      },
    ]);
  });

  it('is cumulative, monotonic in uptime, and zeroed by resetMetrics like the metrics', async () => {
    const m = new MeshMetrics();
    m.clientCall('catalog', 'GET', undefined).record('success', 0.001);
    const a = m.signals();
    expect(a.outbound[0]).toMatchObject({ subset: 'all', requests: 1 }); // as the observer labels it;
    m.clientCall('catalog', 'GET', undefined).record('success', 0.001);
    const b = m.signals();
    expect(b.outbound[0]!.requests).toBe(2);
    expect(b.uptimeMs).toBeGreaterThanOrEqual(a.uptimeMs);
    expect(b.startedAt).toBe(a.startedAt);
    m.registry.resetMetrics();
    expect(m.signals().outbound[0]!.requests).toBe(0);
  });

  it('bounds the rows of one answer', () => {
    const m = new MeshMetrics({ buckets: [1] });
    for (let i = 0; i < MAX_SIGNAL_ROWS + 5; i++) m.clientCall(`svc-${i}`, 'GET', 's').record('success', 0.1);
    expect(m.signals().outbound).toHaveLength(MAX_SIGNAL_ROWS);
  });
});
