import { contextFor } from './execute-context.ts';

/** What a policy hands to the work it runs. One per execution, shared by the policies it passes. */
export interface ExecuteContext {
  /** Aborted when the work must stop (timeout, caller abort, hedge lost). */
  readonly signal: AbortSignal;
  /** 1 for the first try, 2 for the first retry or hedge, ... */
  readonly attempt: number;
  /** Set on a hedged attempt: why it started (`delay`: the hedge delay passed; `failure`: all running attempts failed). */
  readonly hedge?: 'delay' | 'failure';
}

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
