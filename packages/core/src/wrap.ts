import { contextFor } from './execute-context.ts';
import { type ExecuteContext, noopPolicy, type Policy } from './policy.ts';

type Work<T> = (ctx: ExecuteContext) => PromiseLike<T> | T;

/** One step of a composition: runs `fn` through itself and everything inside it. */
interface Runner {
  run<T>(fn: Work<T>, signal: AbortSignal | undefined, outer: ExecuteContext | undefined): Promise<T>;
}

/**
 * What the work sees when an outer policy repeated it: the innermost policy's signal (read
 * lazily, so a timeout makes its AbortController only when the work asks) with the outer
 * policy's attempt number and hedge reason. Allocated on retries and hedges only.
 */
class RepeatContext implements ExecuteContext {
  private readonly inner: ExecuteContext;
  private readonly outer: ExecuteContext;
  constructor(inner: ExecuteContext, outer: ExecuteContext) {
    this.inner = inner;
    this.outer = outer;
  }
  get signal(): AbortSignal {
    return this.inner.signal;
  }
  get attempt(): number {
    return this.outer.attempt;
  }
  get hedge(): ExecuteContext['hedge'] {
    return this.outer.hedge;
  }
}

/** The innermost policy: it gets the work itself, with no wrapper, on a first attempt. */
class Innermost implements Runner {
  constructor(private readonly policy: Policy) {}
  run<T>(fn: Work<T>, signal: AbortSignal | undefined, outer: ExecuteContext | undefined): Promise<T> {
    if (outer === undefined) return this.policy.execute(fn, signal);
    return this.policy.execute((ctx) => fn(ctx.attempt > 1 ? ctx : new RepeatContext(ctx, outer)), signal);
  }
}

/**
 * A policy with more inside it. The step handed to the policy is the one closure per layer and
 * call that the Policy interface requires (it carries `fn`); it passes the signal the policy
 * gives (a timeout's or a hedge's own) and, on a repeat, the context that says which attempt.
 */
class Layer implements Runner {
  constructor(
    private readonly policy: Policy,
    private readonly next: Runner,
  ) {}
  run<T>(fn: Work<T>, signal: AbortSignal | undefined, outer: ExecuteContext | undefined): Promise<T> {
    const next = this.next;
    return this.policy.execute((ctx) => next.run(fn, ctx.signal, ctx.attempt > 1 ? ctx : outer), signal);
  }
}

/** A composition of policies, built once: a call walks the chain without building it. */
class Composed implements Policy {
  constructor(private readonly head: Runner) {}
  execute<T>(fn: Work<T>, signal?: AbortSignal): Promise<T> {
    return this.head.run(fn, signal, undefined);
  }
}

/**
 * Composes policies, outermost first: `wrap(retry, breaker, timeout)`. The work sees the attempt
 * number (and hedge reason) of a retry or hedge anywhere in the chain, whatever the inner
 * policies pass. Immutable: when the policies change, wrap again; calls in flight keep theirs.
 * No policy gives `noopPolicy`; one gives that policy itself.
 */
export function wrap(...policies: Policy[]): Policy {
  const list = policies.filter((p) => p !== noopPolicy);
  if (list.length === 0) return noopPolicy;
  if (list.length === 1) return list[0]!;
  let runner: Runner = new Innermost(list[list.length - 1]!);
  for (let i = list.length - 2; i >= 0; i--) runner = new Layer(list[i]!, runner);
  return new Composed(runner);
}

/** Runs `fn` through `policy`, or directly when it is `noopPolicy` (a synchronous throw still rejects). */
export function runThrough<T>(policy: Policy, fn: Work<T>, signal?: AbortSignal): Promise<T> {
  if (policy !== noopPolicy) return policy.execute(fn, signal);
  try {
    return Promise.resolve(fn(contextFor(signal)));
  } catch (error) {
    return Promise.reject(error);
  }
}
