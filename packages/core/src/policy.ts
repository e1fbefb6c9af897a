import { contextFor, type ExecuteContext } from './execute-context.ts';

// ExecuteContext lives beside its prepared instances (execute-context.ts), so that file needs
// nothing from this one: no import cycle.
export type { ExecuteContext };

/** A resilience policy (timeout, retry, breaker, ...). Compose with `wrap()`. */
export interface Policy {
  execute<T>(fn: (ctx: ExecuteContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T>;
}

/** Runs the work as is. The default where no rule or option asks for a policy. */
export const noopPolicy: Policy = {
  async execute(fn, signal) {
    return fn(contextFor(signal));
  },
};
