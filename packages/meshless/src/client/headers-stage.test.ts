import { CALLER_HEADER } from '@meshless/core';
import { DEADLINE_HEADER, runWithDeadline } from '@meshless/retry';
import { describe, expect, it } from 'vitest';
import type { CallHandler } from './client-stage.ts';
import { headersStage } from './headers-stage.ts';
import type { OutboundCall } from './outbound-call.ts';
import { clientSetup } from './test-support.ts';

function setup(caller: string | undefined) {
  const s = clientSetup();
  const passed: OutboundCall[] = [];
  const next: CallHandler = (call) => {
    passed.push(call);
    return Promise.resolve(new Response(null));
  };
  const run = headersStage({ caller, clock: s.clock })(next);
  return { ...s, passed, run };
}

function routed(s: ReturnType<typeof setup>, operation?: string): OutboundCall {
  return s.routed('GET', '/items/1', operation ? { operation } : {});
}

describe('headersStage', () => {
  it('names the caller, and sends no deadline when no timeout is in force', async () => {
    const s = setup('frontend');
    await s.run(routed(s));
    expect(s.passed[0]!.headers[CALLER_HEADER]).toBe('frontend');
    expect(s.passed[0]!.headers[DEADLINE_HEADER]).toBeUndefined();
    const anonymous = setup(undefined);
    await anonymous.run(routed(anonymous));
    expect(anonymous.passed[0]!.headers[CALLER_HEADER]).toBeUndefined();
  });

  it("sends the operation's timeout as the deadline, and a shorter inherited deadline instead", async () => {
    const s = setup('frontend');
    s.source.put('services/catalog/policies', { timeoutMs: 800, methods: { getItem: { timeoutMs: 300 } } });
    await s.run(routed(s));
    await s.run(routed(s, 'getItem'));
    expect(s.passed.map((c) => c.headers[DEADLINE_HEADER])).toEqual(['800', '300']);
    await runWithDeadline(s.clock.now() + 120, () => s.run(routed(s)));
    expect(s.passed[2]!.headers[DEADLINE_HEADER]).toBe('120');
    expect(s.passed[2]!.inheritedMs).toBe(120);
  });
});
