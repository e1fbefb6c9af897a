import { type CallObserver, type Clock, noopCallObserver, noopCallScope } from '@meshless/core';
import type { CallInstrument } from '../governance/index.ts';

/**
 * Decorated calls on the telemetry seam: each call opens one governed scope (a span, the
 * resource metrics), runs inside it and ends it when the result settles. Undefined when nothing
 * observes (the Governor then runs calls bare); a call nobody observes runs as is.
 */
export function observedCalls(observer: CallObserver, clock: Clock): CallInstrument | undefined {
  if (observer === noopCallObserver) return undefined;
  return {
    call<T>(resource: string, run: () => Promise<T>): Promise<T> {
      const scope = observer.governed(resource);
      if (scope === noopCallScope) return run();
      const started = clock.now();
      return scope.run(run).then(
        (value) => {
          scope.end(undefined, undefined, (clock.now() - started) / 1000);
          return value;
        },
        (error: unknown) => {
          scope.end(undefined, error, (clock.now() - started) / 1000);
          throw error;
        },
      );
    },
  };
}
