import { afterAll, afterEach, beforeAll, expect } from 'vitest';

/**
 * Fails each test of the file that leaves an unhandled rejection behind (nothing may throw into
 * user code from a background loop), and runs the cleanups a test registers, newest first.
 */
export function useCleanupsAndNoUnhandledRejections(): (cleanup: () => Promise<void> | void) => void {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    expect(unhandled).toEqual([]);
  });
  return (cleanup) => {
    cleanups.push(cleanup);
  };
}

/** What `call` rejected with; throws (failing the test) when it resolves. */
export async function rejectionOf(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
