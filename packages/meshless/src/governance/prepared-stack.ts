import { contextFor, type ExecuteContext, neverAborted, type Policy } from '@meshless/core';

type Work<T> = (ctx: ExecuteContext) => PromiseLike<T> | T;

/** One step of a prepared composition: runs `fn` through itself and everything inside it. */
interface Runner {
  run<T>(fn: Work<T>, signal: AbortSignal | undefined, attempt: number): Promise<T>;
}

/**
 * The context the work sees on a retry or hedge: the innermost policy's signal (read lazily, so
 * a TimeoutPolicy still creates its AbortController only when the work asks), with the attempt
 * number of the outer policy that repeated the work. Allocated on repeats only.
 */
class RepeatContext implements ExecuteContext {
  private readonly inner: ExecuteContext;
  readonly attempt: number;
  constructor(inner: ExecuteContext, attempt: number) {
    this.inner = inner;
    this.attempt = attempt;
  }
  get signal(): AbortSignal {
    return this.inner.signal;
  }
}

/** No policy at all: the work runs as is; a synchronous throw still becomes a rejection. */
class Direct implements Runner {
  run<T>(fn: Work<T>, signal: AbortSignal | undefined, attempt: number): Promise<T> {
    let result: PromiseLike<T> | T;
    try {
      result = attempt === 1 ? fn(contextFor(signal)) : fn({ signal: signal ?? neverAborted, attempt });
    } catch (error) {
      return Promise.reject(error);
    }
    // A native promise comes back as is; a thenable or a plain value is adopted.
    return Promise.resolve(result);
  }
}

/** The innermost policy: it gets the work itself, with no wrapper, on a first attempt. */
class Innermost implements Runner {
  private readonly policy: Policy;
  constructor(policy: Policy) {
    this.policy = policy;
  }
  run<T>(fn: Work<T>, signal: AbortSignal | undefined, attempt: number): Promise<T> {
    if (attempt === 1) return this.policy.execute(fn, signal);
    return this.policy.execute((ctx) => fn(new RepeatContext(ctx, attempt)), signal);
  }
}

/**
 * A policy with more inside it. The step handed to the policy is the one closure per layer and
 * call that the Policy interface requires (it carries `fn`); it passes the signal the policy
 * gives (a timeout's or a hedge's own) and the attempt number down.
 */
class Layer implements Runner {
  private readonly policy: Policy;
  private readonly next: Runner;
  constructor(policy: Policy, next: Runner) {
    this.policy = policy;
    this.next = next;
  }
  run<T>(fn: Work<T>, signal: AbortSignal | undefined, attempt: number): Promise<T> {
    const next = this.next;
    return this.policy.execute(
      (ctx) => next.run(fn, ctx.signal, ctx.attempt > 1 ? ctx.attempt : attempt),
      signal,
    );
  }
}

/**
 * Policies composed once, outermost first, into a chain of small objects: a call walks the
 * chain without building it. Immutable: when the policies change, prepare a new one; calls in
 * flight keep the chain they started on. The work sees the attempt number of a retry or hedge
 * anywhere in the chain, as with core's `wrap()`.
 */
export class PreparedStack implements Policy {
  readonly policies: readonly Policy[];
  /** True when no policy applies: the work runs nearly raw. */
  readonly empty: boolean;
  private readonly head: Runner;

  constructor(policies: readonly Policy[]) {
    this.policies = Object.freeze([...policies]);
    this.empty = policies.length === 0;
    let runner: Runner = new Direct();
    for (let i = policies.length - 1; i >= 0; i--) {
      runner = i === policies.length - 1 ? new Innermost(policies[i]!) : new Layer(policies[i]!, runner);
    }
    this.head = runner;
  }

  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
    return this.head.run(fn, signal, 1);
  }
}

export const EMPTY_STACK = new PreparedStack([]);
