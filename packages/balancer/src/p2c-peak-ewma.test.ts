import type { Endpoint } from '@meshless/core';
import { endpoint, ManualClock, seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import {
  EndpointStats,
  EndpointStatsStore,
  FAILURE_PENALTY_FACTOR,
  FAILURE_PENALTY_FLOOR_MS,
  FAILURE_PENALTY_MAX_MS,
  NO_ANSWER_PENALTY_DECAY_MS,
  NO_ANSWER_PENALTY_MS,
} from './endpoint-stats.ts';
import {
  cheaperWithoutClock,
  PeakEwmaBalancer,
  peakEwmaCost,
  UNKNOWN_LATENCY_PENALTY,
} from './p2c-peak-ewma.ts';
import { countPicks, fitsShares } from './test-support.ts';

const ids = ['a', 'b', 'c', 'd'];

function setup(seed: number) {
  const clock = new ManualClock();
  const stats = new EndpointStatsStore({ now: clock.now, decayMs: 10_000 });
  const b = new PeakEwmaBalancer({ stats, random: seededRandom(seed) });
  const eps = ids.map((id) => endpoint(id));
  b.update(eps);
  return { clock, b, eps };
}

/** One call at a time: pick, run for the endpoint's latency on the clock, report. */
function run(clock: ManualClock, b: PeakEwmaBalancer, calls: number, latency: (ep: Endpoint) => number) {
  const counts = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const ep = b.picker.pick()!;
    counts.set(ep.id, (counts.get(ep.id) ?? 0) + 1);
    b.onCallStart(ep);
    const ms = latency(ep);
    clock.advance(ms);
    b.onCallEnd(ep, { latencyMs: ms, ok: true });
  }
  return counts;
}

describe('PeakEwmaBalancer (P2C peak-EWMA)', () => {
  it('spreads evenly while all endpoints look alike', () => {
    const { b, eps } = setup(31);
    for (const ep of eps) b.onCallEnd(ep, { latencyMs: 10, ok: true });
    expect(fitsShares(countPicks(b.picker, ids, 40_000), [1, 1, 1, 1])).toBe(true);
  });

  it('avoids a slow endpoint, and wins it back once it is fast again', () => {
    const { clock, b } = setup(32);
    let slow = true;
    const latency = (ep: Endpoint) => (ep.id === 'd' && slow ? 100 : 10);
    run(clock, b, 200, latency); // warm-up: d's first calls reveal it is slow
    const avoided = run(clock, b, 2000, latency);
    // ~20 s of traffic: d is retried only as its estimate decays below the others'.
    expect(avoided.get('d') ?? 0).toBeLessThan(20);
    slow = false;
    clock.advance(60_000); // idle: d's estimate decays, so it is tried again and found fast
    const recovered = run(clock, b, 2000, (ep) => (ep.id === 'd' ? 5 : 10));
    expect(recovered.get('d') ?? 0).toBeGreaterThan(500);
  });

  it('sends an endpoint that fails fast (a refused connection) less than its share', () => {
    const { clock, b } = setup(36);
    // d is dead: its connections are refused in 0.1 ms; the others answer in 2 ms. Before the
    // failure penalty, d looked like the fastest endpoint and got most of the traffic.
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const ep = b.picker.pick()!;
      counts.set(ep.id, (counts.get(ep.id) ?? 0) + 1);
      b.onCallStart(ep);
      const dead = ep.id === 'd';
      clock.advance(dead ? 0.1 : 2);
      b.onCallEnd(ep, dead ? { latencyMs: 0.1, ok: false, failure: 'connect' } : { latencyMs: 2, ok: true });
    }
    // Its share would be 1000; it is tried once or twice, then left alone.
    expect(counts.get('d') ?? 0).toBeLessThan(10);
  });

  it('leaves a dead instance alone for seconds even while the live ones stall', () => {
    const { clock, b, eps } = setup(38);
    for (const ep of eps) b.onCallEnd(ep, { latencyMs: 2, ok: true });
    b.onCallEnd(endpoint('d'), { latencyMs: 0.1, ok: false, failure: 'connect' });
    // The caller's event loop stalls: every live answer takes 800 ms, several in flight each.
    let picksOfD = 0;
    for (let t = 0; t < 4000; t += 5) {
      const ep = b.picker.pick()!;
      if (ep.id === 'd') picksOfD++;
      b.onCallStart(ep);
      clock.advance(5);
      b.onCallEnd(ep, { latencyMs: 800, ok: true });
    }
    expect(picksOfD).toBe(0);
  });

  it('makes a failure count as slow: at least the floor, a multiple of the estimate, the observed time', () => {
    const { clock, b } = setup(37);
    const s = b.stats.get('a')!;
    b.onCallEnd(endpoint('a'), { latencyMs: 2, ok: true });
    b.onCallEnd(endpoint('a'), { latencyMs: 0.1, ok: false, status: 503 });
    expect(s.ewmaMs).toBe(FAILURE_PENALTY_FLOOR_MS);
    // Failures in a row escalate geometrically, up to the cap.
    b.onCallEnd(endpoint('a'), { latencyMs: 0.1, ok: false });
    expect(s.ewmaMs).toBe(FAILURE_PENALTY_FLOOR_MS * FAILURE_PENALTY_FACTOR);
    for (let i = 0; i < 20; i++) b.onCallEnd(endpoint('a'), { latencyMs: 0.1, ok: false });
    expect(s.ewmaMs).toBe(FAILURE_PENALTY_MAX_MS);
    // A failure slower than all that (a timeout) counts as observed.
    b.onCallEnd(endpoint('a'), { latencyMs: 20_000, ok: false });
    expect(s.ewmaMs).toBe(20_000);
    // No answer at all (a connect error, a reset: a dead instance) puts a 10 s penalty on top,
    // fading fast (time constant 2 s), and any answer clears it.
    for (const [id, failure] of [
      ['b', 'connect'],
      ['c', 'reset'],
    ] as const) {
      const st = b.stats.get(id)!;
      b.onCallEnd(endpoint(id), { latencyMs: 2, ok: true });
      b.onCallEnd(endpoint(id), { latencyMs: 0.1, ok: false, failure });
      expect(st.latencyAt(clock.now(), 10_000)).toBe(NO_ANSWER_PENALTY_MS);
      clock.advance(NO_ANSWER_PENALTY_DECAY_MS);
      expect(st.latencyAt(clock.now(), 10_000)).toBeCloseTo(NO_ANSWER_PENALTY_MS / Math.E, 6);
      clock.advance(10 * NO_ANSWER_PENALTY_DECAY_MS);
      expect(st.latencyAt(clock.now(), 10_000)).toBeLessThan(FAILURE_PENALTY_FLOOR_MS);
      b.onCallEnd(endpoint(id), { latencyMs: 0.1, ok: false, failure });
      b.onCallEnd(endpoint(id), { latencyMs: 3, ok: true, status: 200 });
      expect(st.latencyAt(clock.now(), 10_000)).toBeLessThan(FAILURE_PENALTY_MAX_MS);
      expect(st.penaltyMs).toBe(0);
    }
    // A cancelled call (the caller gave up, a hedge won) is no sign against the endpoint.
    b.onCallEnd(endpoint('d'), { latencyMs: 2, ok: true });
    b.onCallEnd(endpoint('d'), { latencyMs: 0.5, ok: false, failure: 'cancelled' });
    expect(b.stats.get('d')!.ewmaMs).toBe(2);
    // A success afterwards blends in as before: the estimate decays back with time.
    clock.advance(50_000);
    b.onCallEnd(endpoint('a'), { latencyMs: 2, ok: true });
    expect(s.ewmaMs).toBeLessThan(20_000 * Math.exp(-5) + 2);
  });

  it('prefers the less loaded endpoint at equal latency', () => {
    const { b, eps } = setup(33);
    for (const ep of eps) b.onCallEnd(ep, { latencyMs: 10, ok: true });
    for (let i = 0; i < 3; i++) b.onCallStart(eps[0]!);
    expect(countPicks(b.picker, ids, 3000)[0]).toBe(0);
  });

  it('tries a new endpoint once, then waits for its first answer before sending more', () => {
    const { clock, b, eps } = setup(34);
    for (const ep of eps) b.onCallEnd(ep, { latencyMs: 10, ok: true });
    const e = endpoint('e');
    b.update([...eps, e]);
    const s = b.stats.get('e')!;
    expect(peakEwmaCost(s, clock.now(), 10_000)).toBe(0);
    let picksOfE = 0;
    for (let i = 0; i < 200; i++) {
      const ep = b.picker.pick()!;
      if (ep.id === 'e') {
        picksOfE++;
        b.onCallStart(ep); // in flight, no answer yet
      }
    }
    expect(picksOfE).toBe(1);
    expect(peakEwmaCost(s, clock.now(), 10_000)).toBe(UNKNOWN_LATENCY_PENALTY + 1);
  });

  it('honours exclude', () => {
    const { b } = setup(35);
    const counts = countPicks(b.picker, ids, 1000, { exclude: new Set(['a', 'c']) });
    expect(counts[0]).toBe(0);
    expect(counts[2]).toBe(0);
    expect(counts[1]! + counts[3]!).toBe(1000);
  });

  it('decides without the clock exactly as the cost at any later time would', () => {
    const random = seededRandom(77);
    const stats = (ewmaMs: number, ewmaAt: number, pending: number) => {
      const s = new EndpointStats(endpoint('x'), 0, true);
      s.ewmaMs = ewmaMs;
      s.ewmaAt = ewmaAt;
      s.pending = pending;
      return s;
    };
    let decided = 0;
    for (let i = 0; i < 20_000; i++) {
      const a = stats(0.1 + random() * 500, random() * 60_000, Math.floor(random() * 4));
      const b = stats(0.1 + random() * 500, random() * 60_000, Math.floor(random() * 4));
      const [wa, wb] = [1 + Math.floor(random() * 3), 1 + Math.floor(random() * 3)];
      const now = Math.max(a.ewmaAt, b.ewmaAt) + random() * 120_000;
      const ca = peakEwmaCost(a, now, 10_000) / wa;
      const cb = peakEwmaCost(b, now, 10_000) / wb;
      // Near-ties may round either way; everything else must agree.
      if (Math.abs(ca - cb) <= 1e-9 * Math.max(ca, cb)) continue;
      expect(cheaperWithoutClock(a, wa, b, wb, 10_000)).toBe(cb < ca);
      decided++;
    }
    expect(decided).toBeGreaterThan(19_000);
  });

  it('leaves penalties and endpoints without a latency to the clock', () => {
    const known = new EndpointStats(endpoint('k'), 0, true);
    known.ewmaMs = 10;
    const fresh = new EndpointStats(endpoint('f'), 0, true);
    expect(cheaperWithoutClock(known, 1, fresh, 1, 10_000)).toBeUndefined();
    const penalised = new EndpointStats(endpoint('p'), 0, true);
    penalised.ewmaMs = 10;
    penalised.penaltyMs = NO_ANSWER_PENALTY_MS;
    expect(cheaperWithoutClock(penalised, 1, known, 1, 10_000)).toBeUndefined();
  });
});
