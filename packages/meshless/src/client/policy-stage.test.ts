import { DeadlineExceededError, type ExecuteContext } from '@meshless/core';
import { runWithDeadline } from '@meshless/retry';
import { describe, expect, it } from 'vitest';
import type { AttemptHandler } from './client-stage.ts';
import type { OutboundCall } from './outbound-call.ts';
import { policyStage } from './policy-stage.ts';
import { clientSetup } from './test-support.ts';

/** The policy stage over an attempt that answers from `statuses` in turn (then 200). */
function setup(statuses: number[] = []) {
  const s = clientSetup();
  const attempts: ExecuteContext[] = [];
  const attempt: AttemptHandler = (_call, ctx) => {
    attempts.push(ctx);
    return Promise.resolve(new Response(null, { status: statuses.shift() ?? 200 }));
  };
  const run = policyStage({ service: 'catalog', clock: s.clock })(attempt);
  const routed = (method = 'GET', operation?: string): OutboundCall =>
    s.routed(method, '/items/1', operation ? { operation } : {});
  return { ...s, attempts, run, routed };
}

const retry503 = { retry: { attempts: 3, on: ['503'], backoff: { baseMs: 0, maxMs: 0 } } };

describe('policyStage', () => {
  it('runs one attempt with no rule, through no policy', async () => {
    const s = setup();
    expect((await s.run(s.routed())).status).toBe(200);
    expect(s.attempts.map((c) => c.attempt)).toEqual([1]);
  });

  it('retries a call that may be sent again, and never one that may not', async () => {
    const statuses = [503, 503];
    const s = setup(statuses);
    s.source.put('services/catalog/policies', retry503);
    expect((await s.run(s.routed('GET'))).status).toBe(200);
    expect(s.attempts.map((c) => c.attempt)).toEqual([1, 2, 3]);
    s.attempts.length = 0;
    statuses.push(503, 503);
    const post = s.routed('POST');
    post.retryable = false;
    expect((await s.run(post)).status).toBe(503);
    expect(s.attempts).toHaveLength(1);
  });

  it("takes an operation's override and a route's retry over the service's policies", async () => {
    const s = setup([503, 503, 503, 503, 503]);
    s.source.put('services/catalog/policies', {
      ...retry503,
      methods: { getItem: { retry: { attempts: 1 } } },
    });
    expect((await s.run(s.routed('GET', 'getItem'))).status).toBe(503);
    expect(s.attempts).toHaveLength(1);
    s.putRoutes({ routes: [{ name: 'twice', retry: { attempts: 2 } }] });
    s.attempts.length = 0;
    await s.run(s.routed('GET'));
    expect(s.attempts).toHaveLength(2);
  });

  it('ends the whole call at an inherited deadline, with DeadlineExceededError', async () => {
    const s = setup();
    const run = policyStage({ service: 'catalog', clock: s.clock })(
      (_call, ctx) =>
        new Promise<Response>((_r, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
    );
    const call = s.routed();
    const pending = runWithDeadline(s.clock.now() + 100, () => {
      call.inheritedMs = 100;
      return run(call);
    });
    s.clock.advance(100);
    await expect(pending).rejects.toBeInstanceOf(DeadlineExceededError);
  });
});
