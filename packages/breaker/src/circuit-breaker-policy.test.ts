import { CircuitOpenError, MeshlessError } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { CircuitBreakerPolicy, type CircuitStateChange } from './circuit-breaker-policy.ts';

const ok = async () => 'ok';
const boom = async () => {
  throw new Error('boom');
};
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Work that takes `ms` on the manual clock. */
function slow<T>(clock: ManualClock, ms: number, value: T) {
  return () => new Promise<T>((resolve) => clock.setTimeout(() => resolve(value), ms));
}

async function fail(breaker: CircuitBreakerPolicy, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) await expect(breaker.execute(boom)).rejects.toThrow('boom');
}

async function succeed(breaker: CircuitBreakerPolicy, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) await expect(breaker.execute(ok)).resolves.toBe('ok');
}

function openBreaker(
  clock: ManualClock,
  extra: Partial<ConstructorParameters<typeof CircuitBreakerPolicy>[0]> = {},
) {
  return new CircuitBreakerPolicy({
    resource: 'catalog',
    clock,
    volume: 4,
    errorPercent: 50,
    openMs: 1000,
    halfOpenProbes: 2,
    ...extra,
  });
}

describe('CircuitBreakerPolicy', () => {
  it('stays closed below the error share and below the volume', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock);
    await fail(breaker, 3); // 3 calls < volume 4, though all failed
    expect(breaker.state).toBe('closed');
    const other = openBreaker(clock);
    await succeed(other, 5);
    await fail(other, 3); // 3 of 8 failed: 37.5 % < 50 %
    expect(other.state).toBe('closed');
    expect(other.counts).toEqual({ calls: 8, failures: 3, slow: 0 });
  });

  it('opens when the error share reaches errorPercent over at least volume calls', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock);
    const changes: CircuitStateChange[] = [];
    breaker.onDidChangeState((c) => changes.push(c));
    await succeed(breaker, 2);
    await fail(breaker, 1);
    expect(breaker.state).toBe('closed');
    await fail(breaker, 1); // 2 of 4 = 50 %
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([{ resource: 'catalog', endpointId: undefined, from: 'closed', to: 'open' }]);
  });

  // The thresholds are checked on every recorded outcome, a success included (Resilience4j).
  describe.each([
    ['async work', undefined, false],
    ['sync work', undefined, true],
    ['timed (slowCallMs set)', 1000, false],
  ] as const)('on every outcome, %s', (_, slowCallMs, sync) => {
    const make = (clock: ManualClock) =>
      new CircuitBreakerPolicy({
        clock,
        volume: 20,
        errorPercent: 50,
        ...(slowCallMs ? { slowCallMs } : {}),
      });
    const run = (breaker: CircuitBreakerPolicy, failed: boolean) =>
      breaker.execute(
        sync
          ? () => {
              if (failed) throw new Error('boom');
              return 'ok';
            }
          : failed
            ? boom
            : ok,
      );

    it('10 failures then 10 successes (volume 20, 50 %) open on the 20th outcome', async () => {
      const clock = new ManualClock();
      const breaker = make(clock);
      for (let i = 0; i < 10; i++) await expect(run(breaker, true)).rejects.toThrow('boom');
      for (let i = 0; i < 9; i++) await expect(run(breaker, false)).resolves.toBe('ok');
      expect(breaker.state).toBe('closed'); // 19 calls: below volume
      await expect(run(breaker, false)).resolves.toBe('ok'); // the 20th call itself goes through
      expect(breaker.state).toBe('open'); // 10 of 20 = 50 %
      const error = await run(breaker, false).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect((error as CircuitOpenError).cause).toMatchObject({ message: 'boom' }); // the last failure
    });

    it('9 failures and 11 successes stay closed', async () => {
      const clock = new ManualClock();
      const breaker = make(clock);
      for (let i = 0; i < 9; i++) await expect(run(breaker, true)).rejects.toThrow('boom');
      for (let i = 0; i < 11; i++) await expect(run(breaker, false)).resolves.toBe('ok');
      expect(breaker.counts).toEqual({ calls: 20, failures: 9, slow: 0 });
      expect(breaker.state).toBe('closed'); // 45 %
    });
  });

  it('opens on a success when older successes rotated out left the failure share at the threshold', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock, { windowMs: 1000 }); // volume 4, 50 %, ten 100 ms buckets
    await succeed(breaker, 4);
    clock.advance(500);
    await fail(breaker, 3); // 3 of 7
    expect(breaker.state).toBe('closed');
    clock.advance(600); // the four successes rotate out
    expect(breaker.counts).toEqual({ calls: 3, failures: 3, slow: 0 });
    await succeed(breaker, 1); // 3 of 4 = 75 % with volume reached
    expect(breaker.state).toBe('open');
  });

  it('rejects fast while open with a typed error naming the resource, without calling the work', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock);
    await fail(breaker, 4);
    let calls = 0;
    const error = await breaker
      .execute(async () => {
        calls++;
        return 1;
      })
      .catch((e: unknown) => e);
    expect(calls).toBe(0);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(MeshlessError.isInstance(error) && error.code).toBe('MESHLESS_CIRCUIT_OPEN');
    expect((error as CircuitOpenError).resource).toBe('catalog');
    expect((error as CircuitOpenError).cause).toMatchObject({ message: 'boom' }); // the failure that tripped it
  });

  it('goes half-open after openMs, admits halfOpenProbes trial calls, and closes when all succeed', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock);
    const changes: string[] = [];
    breaker.onDidChangeState((c) => changes.push(`${c.from}>${c.to}`));
    await fail(breaker, 4);
    clock.advance(999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');

    const probe1 = breaker.execute(slow(clock, 10, 'a'));
    const probe2 = breaker.execute(slow(clock, 10, 'b'));
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError); // third call: no slot
    clock.advance(10);
    await expect(probe1).resolves.toBe('a');
    await expect(probe2).resolves.toBe('b');
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual(['closed>open', 'open>half-open', 'half-open>closed']);
    // Closing starts a clean window.
    expect(breaker.counts).toEqual({ calls: 0, failures: 0, slow: 0 });
    await succeed(breaker);
  });

  it('reopens on a failed probe and waits openMs again from then', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock);
    await fail(breaker, 4);
    clock.advance(1000);
    await succeed(breaker, 1);
    await fail(breaker, 1); // second probe fails
    expect(breaker.state).toBe('open');
    clock.advance(999);
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    clock.advance(1);
    await succeed(breaker, 2);
    expect(breaker.state).toBe('closed');
  });

  it('half-open admits halfOpenProbes calls in all, concurrent or one after another, until they end', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock, { halfOpenProbes: 3 });
    await fail(breaker, 4);
    clock.advance(1000);
    await succeed(breaker, 1); // probe 1 of 3 ended: its slot is not handed out again
    const probe2 = breaker.execute(slow(clock, 10, 'b'));
    const probe3 = breaker.execute(slow(clock, 10, 'c'));
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError); // no 4th probe
    expect(breaker.state).toBe('half-open');
    clock.advance(10);
    await expect(probe2).resolves.toBe('b');
    await expect(probe3).resolves.toBe('c');
    expect(breaker.state).toBe('closed'); // every probe succeeded
  });

  it('half-open: a failed probe reopens at once, even after the others succeeded, and in-flight probes are ignored', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock, { halfOpenProbes: 3 });
    await fail(breaker, 4);
    clock.advance(1000);
    const pending = breaker.execute(slow(clock, 50, 'late'));
    await succeed(breaker, 1);
    await fail(breaker, 1); // the third probe fails while the first is still running
    expect(breaker.state).toBe('open');
    clock.advance(50);
    await expect(pending).resolves.toBe('late');
    expect(breaker.state).toBe('open'); // a late success does not count for the new open period
    clock.advance(949);
    expect(breaker.state).toBe('open'); // openMs counts from the failed probe
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
  });

  it('half-open: slow probes are judged as a group, by slowCallPercent, when the last probe ends', async () => {
    const clock = new ManualClock();
    const probes = async (breaker: CircuitBreakerPolicy, ms: readonly number[]) => {
      await fail(breaker, 4);
      clock.advance(1000);
      const all = ms.map((m) => breaker.execute(slow(clock, m, m)));
      // Step the clock probe by probe, so that each one ends (and is timed) at its own time.
      let at = 0;
      for (const m of [...ms].sort((a, b) => a - b)) {
        clock.advance(m - at);
        at = m;
        await flush();
      }
      await Promise.all(all);
      return breaker.state;
    };
    // slowCallMs 100, slowCallPercent 50, 3 probes: one slow probe of three is fine, two are not.
    const strict = { halfOpenProbes: 3, slowCallMs: 100, slowCallPercent: 50 };
    expect(await probes(openBreaker(clock, strict), [150, 10, 10])).toBe('closed');
    expect(await probes(openBreaker(clock, strict), [150, 150, 10])).toBe('open');
    // With the default slowCallPercent (100) only all-slow probes reopen, as in closed state.
    const lenient = { halfOpenProbes: 3, slowCallMs: 100 };
    expect(await probes(openBreaker(clock, lenient), [150, 150, 10])).toBe('closed');
    expect(await probes(openBreaker(clock, lenient), [150, 150, 150])).toBe('open');
  });

  it('frees a probe slot when the probe ends with an error that is not a failure (caller abort)', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock, { halfOpenProbes: 1 });
    await fail(breaker, 4);
    clock.advance(1000);
    const abort = new DOMException('caller gave up', 'AbortError');
    await expect(
      breaker.execute(async () => {
        throw abort;
      }),
    ).rejects.toBe(abort);
    expect(breaker.state).toBe('half-open');
    await succeed(breaker);
    expect(breaker.state).toBe('closed');
  });

  it('counts calls slower than slowCallMs and opens when their share reaches slowCallPercent', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock, { slowCallMs: 100, slowCallPercent: 50 });
    const run = (ms: number) => {
      const p = breaker.execute(slow(clock, ms, ms));
      clock.advance(ms);
      return p;
    };
    await run(50);
    await run(100); // not slower than 100 ms
    await run(150);
    expect(breaker.counts).toEqual({ calls: 3, failures: 0, slow: 1 });
    expect(breaker.state).toBe('closed');
    await run(200); // 2 of 4 slow = 50 %
    expect(breaker.state).toBe('open');
  });

  it('with the default slowCallPercent (100) opens only when every call in the window was slow', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock, { slowCallMs: 100 });
    const run = (ms: number) => {
      const p = breaker.execute(slow(clock, ms, ms));
      clock.advance(ms);
      return p;
    };
    await run(50);
    for (let i = 0; i < 5; i++) await run(150);
    expect(breaker.state).toBe('closed');
    const fresh = openBreaker(clock, { slowCallMs: 100 });
    for (let i = 0; i < 4; i++) {
      const p = fresh.execute(slow(clock, 150, i));
      clock.advance(150);
      await p;
    }
    expect(fresh.state).toBe('open');
  });

  it('reopens from half-open when the share of slow probes reaches slowCallPercent', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock, { slowCallMs: 100, slowCallPercent: 50 });
    await fail(breaker, 4);
    clock.advance(1000);
    const p1 = breaker.execute(slow(clock, 150, 1));
    const p2 = breaker.execute(slow(clock, 10, 2));
    clock.advance(150);
    await Promise.all([p1, p2]);
    expect(breaker.state).toBe('open');
  });

  it('forgets failures that rotate out of the window', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock, { windowMs: 1000 });
    await fail(breaker, 3);
    clock.advance(1000); // ten 100 ms buckets rotate
    expect(breaker.counts.calls).toBe(0);
    await fail(breaker, 1);
    expect(breaker.state).toBe('closed');
  });

  it('does not count an AbortError (the caller gave up) as a failure', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock);
    for (let i = 0; i < 6; i++) {
      await breaker
        .execute(async () => {
          throw new DOMException('aborted', 'AbortError');
        })
        .catch(() => {});
    }
    expect(breaker.counts).toEqual({ calls: 0, failures: 0, slow: 0 });
    expect(breaker.state).toBe('closed');
  });

  it('ignores results of calls admitted before the breaker opened', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock, { halfOpenProbes: 1 });
    const early = breaker.execute(slow(clock, 5000, 'late'));
    await fail(breaker, 4);
    clock.advance(1000); // half-open is due
    expect(breaker.state).toBe('half-open');
    clock.advance(4000);
    await expect(early).resolves.toBe('late');
    expect(breaker.state).toBe('half-open'); // the late success was not a probe
  });

  it('handles synchronous work: values, throws', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock);
    await expect(breaker.execute(() => 42)).resolves.toBe(42);
    for (let i = 0; i < 3; i++) {
      await expect(
        breaker.execute(() => {
          throw new Error('sync');
        }),
      ).rejects.toThrow('sync');
    }
    expect(breaker.state).toBe('open');
  });

  it('passes the caller signal to the work', async () => {
    const breaker = new CircuitBreakerPolicy({ clock: new ManualClock() });
    const controller = new AbortController();
    const seen = await breaker.execute((ctx) => ctx.signal, controller.signal);
    expect(seen).toBe(controller.signal);
  });

  it('reconfigure keeps an open breaker open and applies the new openMs', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock);
    await fail(breaker, 4);
    breaker.reconfigure({ openMs: 3000, errorPercent: 90, volume: 100, windowMs: 60_000 });
    expect(breaker.state).toBe('open');
    expect(breaker.options.openMs).toBe(3000);
    clock.advance(2999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
  });

  it('reconfigure of the window keeps the counts so far', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock, { volume: 100 });
    await fail(breaker, 2);
    await succeed(breaker, 3);
    breaker.reconfigure({ volume: 100, windowMs: 30_000 });
    expect(breaker.counts).toEqual({ calls: 5, failures: 2, slow: 0 });
  });

  it('rejects a bad option with a ConfigError naming the field', () => {
    expect(() => new CircuitBreakerPolicy({ errorPercent: 150 })).toThrow(
      expect.objectContaining({ code: 'MESHLESS_INVALID_OPTION', path: 'errorPercent' }),
    );
    const breaker = new CircuitBreakerPolicy({ clock: new ManualClock() });
    expect(() => breaker.reconfigure({ halfOpenProbes: 0 })).toThrow(/halfOpenProbes/);
    expect(breaker.options.halfOpenProbes).toBe(3);
  });

  it('runs one timer for its window and none after dispose', async () => {
    const clock = new ManualClock();
    const breaker = openBreaker(clock);
    expect(clock.pending).toBe(1);
    await fail(breaker, 4);
    expect(clock.pending).toBe(1); // open: no reset timer
    breaker.dispose();
    expect(clock.pending).toBe(0);
  });

  it('a listener that throws does not break the breaker', async () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const breaker = openBreaker(clock);
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      breaker.onDidChangeState(() => {
        throw new Error('listener');
      });
      await fail(breaker, 4);
      expect(breaker.state).toBe('open');
      expect(errors).toHaveLength(1);
    } finally {
      console.error = original;
    }
    await flush();
  });
});
