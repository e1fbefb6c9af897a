import { endpoint, ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { EndpointStatsStore, FAILURE_PENALTY_FACTOR } from './endpoint-stats.ts';

describe('EndpointStatsStore', () => {
  it('keeps stats of ids that stay, drops removed ones, and starts fresh when they come back', () => {
    const clock = new ManualClock();
    const store = new EndpointStatsStore({ now: clock.now });
    const a = endpoint('a');
    const b = endpoint('b');
    store.sync([a, b]);
    store.callStarted(a);
    store.callEnded(b, { latencyMs: 20, ok: false });
    clock.advance(1000);
    const a2 = endpoint('a', { port: 9000 });
    store.sync([a2]);
    expect(store.get('a')).toMatchObject({ pending: 1, firstSeen: 0, initial: true, endpoint: a2 });
    expect(store.get('b')).toBeUndefined();
    store.sync([a2, b]);
    expect(store.get('b')).toMatchObject({ failures: 0, firstSeen: 1000, initial: false });
    expect(store.endpoints.map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('counts outcomes: pending, successes, failures, consecutive errors', () => {
    const store = new EndpointStatsStore({ now: () => 0 });
    const a = endpoint('a');
    store.sync([a]);
    store.callStarted(a);
    store.callStarted(a);
    store.callEnded(a, { latencyMs: 5, ok: false });
    store.callEnded(a, { latencyMs: 5, ok: false });
    store.callEnded(a, { latencyMs: 5, ok: false }); // more ends than starts: pending stays at 0
    expect(store.get('a')).toMatchObject({ pending: 0, failures: 3, consecutiveErrors: 3 });
    store.callEnded(a, { latencyMs: 5, ok: true });
    expect(store.get('a')).toMatchObject({ successes: 1, consecutiveErrors: 0, intervalFailures: 3 });
  });

  it('ignores outcomes of endpoints it does not know', () => {
    const store = new EndpointStatsStore({ now: () => 0 });
    store.callStarted(endpoint('x'));
    store.callEnded(endpoint('x'), { latencyMs: 1, ok: true });
    expect(store.size).toBe(0);
  });
});

describe('peak EWMA', () => {
  it('jumps to a peak at once and decays with the time constant', () => {
    const clock = new ManualClock();
    const store = new EndpointStatsStore({ now: clock.now, decayMs: 10_000 });
    const a = endpoint('a');
    store.sync([a]);
    store.callEnded(a, { latencyMs: 10, ok: true });
    expect(store.get('a')!.latencyAt(clock.now(), 10_000)).toBe(10);
    store.callEnded(a, { latencyMs: 200, ok: true });
    expect(store.get('a')!.latencyAt(clock.now(), 10_000)).toBe(200);
    clock.advance(10_000);
    expect(store.get('a')!.latencyAt(clock.now(), 10_000)).toBeCloseTo(200 / Math.E, 6);
  });

  it('blends lower samples by elapsed time, and counts a fast failure as a peak of 4x the estimate', () => {
    const clock = new ManualClock();
    const store = new EndpointStatsStore({ now: clock.now, decayMs: 1000 });
    const a = endpoint('a');
    store.sync([a]);
    store.callEnded(a, { latencyMs: 100, ok: true });
    clock.advance(1000);
    store.callEnded(a, { latencyMs: 1, ok: false });
    const s = store.get('a')!;
    const penalized = FAILURE_PENALTY_FACTOR * (100 / Math.E);
    expect(s.latencyAt(clock.now(), 1000)).toBeCloseTo(penalized, 6);
    clock.advance(1000);
    store.callEnded(a, { latencyMs: 10, ok: true });
    const w = Math.exp(-1);
    expect(s.latencyAt(clock.now(), 1000)).toBeCloseTo(penalized * w + 10 * (1 - w), 6);
  });
});
