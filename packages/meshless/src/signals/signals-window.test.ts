import { describe, expect, it } from 'vitest';
import { parseSignalsAnswer, type SignalsAnswer } from './signals-answer.ts';
import { aggregateWindows, instanceWindow } from './signals-window.ts';

const boundsMs = [10, 100, 1000];

function answer(over: Record<string, unknown>): SignalsAnswer {
  const parsed = parseSignalsAnswer({
    format: 'meshless-signals/1',
    service: 'gateway',
    version: 'v1',
    instance: 'gw-1',
    startedAt: 1000,
    at: 2000,
    uptimeMs: 10_000,
    seq: 1,
    boundsMs,
    outbound: [],
    inbound: [],
    ...over,
  });
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

const out = (subset: string, success: number, error: number, latency: number[]) => ({
  target: 'catalog',
  subset,
  requests: success + error,
  outcomes: { success, ...(error ? { error } : {}) },
  latency,
  sumMs: 0,
});

describe('signals windows and aggregates', () => {
  it('takes the window between two answers of one instance, by its monotonic uptime', () => {
    const before = answer({ uptimeMs: 10_000, outbound: [out('stable', 100, 0, [100, 0, 0, 0])] });
    const now = answer({ uptimeMs: 20_000, outbound: [out('stable', 300, 10, [290, 20, 0, 0])] });
    const w = instanceWindow(now, before);
    expect(w.seconds).toBe(10);
    expect(w.outbound[0]).toMatchObject({ requests: 210, classes: { success: 200, error: 10 } });
    expect(w.outbound[0]!.latency.counts).toEqual([190, 20, 0, 0]);
  });

  it('counts everything of a restarted instance (another startedAt) over its uptime', () => {
    const before = answer({ uptimeMs: 50_000, outbound: [out('stable', 900, 0, [900, 0, 0, 0])] });
    const now = answer({ startedAt: 5000, uptimeMs: 4000, outbound: [out('stable', 40, 0, [40, 0, 0, 0])] });
    const w = instanceWindow(now, before);
    expect(w.seconds).toBe(4);
    expect(w.outbound[0]!.requests).toBe(40);
  });

  it('sums instances by subset, by edge and by (service, version); errors exclude 4xx and cancelled', () => {
    const gw1 = instanceWindow(
      answer({
        outbound: [
          out('stable', 90, 0, [90, 0, 0, 0]),
          { ...out('canary', 8, 2, [0, 10, 0, 0]), outcomes: { success: 7, error: 2, client_error: 1 } },
        ],
      }),
      undefined,
    );
    const gw2 = instanceWindow(
      answer({ instance: 'gw-2', outbound: [out('stable', 10, 0, [10, 0, 0, 0])] }),
      undefined,
    );
    const cat = instanceWindow(
      answer({
        service: 'catalog',
        inbound: [
          {
            service: 'catalog',
            requests: 10,
            statuses: { '2xx': 8, '5xx': 2 },
            rejected: {},
            latency: [0, 10, 0, 0],
            sumMs: 0,
          },
        ],
      }),
      undefined,
    );
    const agg = aggregateWindows([
      { service: 'gateway', version: 'v1', window: gw1 },
      { service: 'gateway', version: 'v1', window: gw2 },
      { service: 'catalog', version: 'v2', window: cat },
    ]);
    const stable = agg.subsets.find((s) => s.subset === 'stable')!;
    expect(stable).toMatchObject({ service: 'catalog', requests: 100, errors: 0, successRate: 1, rps: 10 });
    const canary = agg.subsets.find((s) => s.subset === 'canary')!;
    expect(canary).toMatchObject({ requests: 10, errors: 2, successRate: 0.8, rps: 1 });
    expect(canary.p50).toBeGreaterThan(10);
    expect(canary.p99).toBeLessThanOrEqual(100);
    expect(agg.edges).toHaveLength(2);
    expect(agg.edges[0]).toMatchObject({ caller: 'gateway', service: 'catalog' });
    expect(agg.services).toEqual([expect.objectContaining({ service: 'catalog', version: 'v2', errors: 2 })]);
  });

  it('reads the ejections and open breakers a caller holds (none in an answer without them), refusing bad ones', () => {
    const base = { ...answer({}), format: 'meshless-signals/1', boundsMs };
    const { targets: _, ...older } = base;
    expect((parseSignalsAnswer(older) as SignalsAnswer).targets).toEqual([]);
    const withTargets = parseSignalsAnswer({
      ...base,
      targets: [{ target: 'catalog', ejected: 1, openBreakers: 2 }],
    }) as SignalsAnswer;
    expect(withTargets.targets).toEqual([{ service: 'catalog', ejected: 1, openBreakers: 2 }]);
    expect(parseSignalsAnswer({ ...base, targets: {} })).toMatch(/^targets: expected an array/);
    expect(parseSignalsAnswer({ ...base, targets: [{ target: 'c', ejected: -1, openBreakers: 0 }] })).toMatch(
      /^targets\[0\]\.ejected/,
    );
    expect(
      parseSignalsAnswer({
        ...base,
        targets: new Array(1001).fill({ target: 'c', ejected: 0, openBreakers: 0 }),
      }),
    ).toMatch(/more than 1000/);
  });

  it('refuses answers of the wrong shape, naming the field', () => {
    const bad = (over: Record<string, unknown>) =>
      parseSignalsAnswer({ ...answer({}), format: 'meshless-signals/1', boundsMs, ...over });
    expect(bad({ format: 'x' })).toMatch(/^format/);
    expect(bad({ boundsMs: [5, 1] })).toMatch(/^boundsMs\[1\]/);
    expect(bad({ outbound: [{ ...out('s', 1, 0, [1, 0]) }] })).toMatch(/^outbound\[0\]\.latency/);
    expect(bad({ outbound: [{ ...out('s', 1, 0, [1, 0, 0, 0]), requests: -1 }] })).toMatch(/requests/);
    expect(bad({ outbound: new Array(1001).fill(out('s', 1, 0, [1, 0, 0, 0])) })).toMatch(/more than 1000/);
    expect(parseSignalsAnswer('nope')).toMatch(/expected an object/);
    const proto = parseSignalsAnswer(
      JSON.parse(
        JSON.stringify({ ...answer({}), format: 'meshless-signals/1', boundsMs, outbound: [] }).replace(
          '"outbound":[]',
          '"outbound":[{"target":"c","subset":"s","requests":1,"outcomes":{"__proto__":1},"latency":[1,0,0,0]}]',
        ),
      ),
    );
    expect(typeof proto).toBe('object');
  });
});
