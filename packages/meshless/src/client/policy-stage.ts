import { type Clock, firstAttempt, noopPolicy } from '@meshless/core';
import { DeadlinePolicy } from '@meshless/retry';
import type { AttemptHandler, CallHandler } from './client-stage.ts';
import type { OutboundCall } from './outbound-call.ts';

export interface PolicyStageDeps {
  readonly service: string;
  readonly clock: Clock;
}

/**
 * Client limits and retry/hedge: the call runs its attempts through the prepared policies of
 * its operation and route (chosen by the route stage) (with retry and hedge only when it may be sent again). Under an
 * inherited deadline the whole call, retries included, ends with it: the attempt in flight is
 * aborted and the call fails with DeadlineExceededError.
 */
export function policyStage(d: PolicyStageDeps): (attempt: AttemptHandler) => CallHandler {
  const deadline = new DeadlinePolicy({ resource: d.service, clock: d.clock });
  return (attempt) => {
    const run = (call: OutboundCall, signal: AbortSignal | undefined): Promise<Response> => {
      const policy = call.retryable ? call.policies.full : call.policies.once;
      // With no policy in force (no rules), without the policy machinery.
      if (policy === noopPolicy) return attempt(call, signal ? { signal, attempt: 1 } : firstAttempt);
      return policy.execute((ctx) => attempt(call, ctx), signal);
    };
    return (call) =>
      Number.isFinite(call.inheritedMs)
        ? deadline.execute((ctx) => run(call, ctx.signal), call.signal)
        : run(call, call.signal);
  };
}
