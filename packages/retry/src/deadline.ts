import { AsyncLocalStorage } from 'node:async_hooks';
import { type Clock, ConfigError, systemClock } from '@meshless/core';

// The deadline of the current call, as an absolute time on the policies' monotonic clock
// (`clock.now()` ms). Absolute inside the process; relative on the wire (see deadline-header).
const storage = new AsyncLocalStorage<number>();

/**
 * Runs `fn` with a deadline at `deadlineAt` (a `clock.now()` time). A nested call can only
 * shorten the deadline it inherited, never extend it.
 */
export function runWithDeadline<T>(deadlineAt: number, fn: () => T): T {
  if (Number.isNaN(deadlineAt))
    throw new ConfigError('deadlineAt: expected a number', { path: 'deadlineAt' });
  const inherited = storage.getStore();
  return storage.run(inherited !== undefined && inherited < deadlineAt ? inherited : deadlineAt, fn);
}

/** Runs `fn` with a deadline `ms` from now (or the inherited one, if sooner). */
export function runWithTimeout<T>(ms: number, fn: () => T, clock: Clock = systemClock): T {
  return runWithDeadline(clock.now() + ms, fn);
}

/** The current call's deadline (a `clock.now()` time), or undefined outside any deadline. */
export function currentDeadline(): number | undefined {
  return storage.getStore();
}

/**
 * Milliseconds left before the current deadline: 0 once passed, Infinity without one, so
 * inner policies can write `Math.min(timeoutMs, remainingMs(clock))`.
 */
export function remainingMs(clock: Clock = systemClock): number {
  const deadlineAt = storage.getStore();
  return deadlineAt === undefined ? Number.POSITIVE_INFINITY : Math.max(0, deadlineAt - clock.now());
}
