// The only file that imports p-retry. It drives the attempt loop of a call whose first attempt
// already failed (the first attempt never pays for p-retry: ~17 µs per call even on success).
//
// p-retry cannot do full jitter with an injected random (its `randomize` multiplies by
// 1..2 with Math.random) and it sleeps on real timers measured with performance.now(). So it
// is run with `minTimeout: 0` (it never sleeps) and our `beforeRetry` hook, called from its
// `shouldRetry`, classifies, checks budget and deadline, and sleeps on the injected clock.
import pRetry from 'p-retry';

/**
 * Carries whatever an attempt threw through p-retry: p-retry refuses to retry TypeErrors
 * (except fetch's network ones) and turns non-Error throws into TypeErrors, while here the
 * classifier alone decides. One per retried call.
 */
class AttemptFailure extends Error {
  failure: unknown;
}

/**
 * An AttemptFailure made without running Error's constructor: p-retry only needs
 * `instanceof Error`, and capturing a stack nobody reads costs ~2.5 µs, more than the rest
 * of a retry put together.
 */
function newCarrier(): AttemptFailure {
  const carrier = Object.create(AttemptFailure.prototype) as AttemptFailure;
  carrier.failure = undefined;
  return carrier;
}

/**
 * Runs attempts `first..last` (inclusive) of a call until one succeeds. Before each attempt
 * after `first`, `beforeRetry(failure, next)` decides: resolve true to go on (after any
 * delay it wants), false to stop. Rejects with the last failure as thrown by `attempt`, or
 * with `signal.reason` when the caller aborts, or with what `beforeRetry` threw.
 */
export async function retryLoop<T>(
  attempt: (n: number) => Promise<T>,
  first: number,
  last: number,
  beforeRetry: (failure: unknown, next: number) => Promise<boolean> | boolean,
  signal: AbortSignal | undefined,
): Promise<T> {
  const carrier = newCarrier();
  const offset = first - 1;
  try {
    return await pRetry(
      async (n: number) => {
        try {
          return await attempt(n + offset);
        } catch (failure) {
          carrier.failure = failure;
          throw carrier;
        }
      },
      {
        retries: last - first,
        minTimeout: 0,
        signal,
        shouldRetry: ({ error, attemptNumber }) =>
          error === carrier ? beforeRetry(carrier.failure, attemptNumber + offset + 1) : false,
      },
    );
  } catch (error) {
    throw error === carrier ? carrier.failure : error;
  }
}
