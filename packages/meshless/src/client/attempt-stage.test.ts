import { CircuitOpenError, ConnectError, firstAttempt, NoHealthyEndpointError } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { attemptStage } from './attempt-stage.ts';
import { answer, clientSetup, refused } from './test-support.ts';

function setup(ids?: readonly string[]) {
  const s = clientSetup(ids);
  const attempt = attemptStage({
    endpoints: s.groups,
    sender: s.sender,
    clock: s.clock,
  });
  const routed = (method = 'GET') => {
    const call = s.routed(method);
    call.scope = s.observer.client(call);
    return call;
  };
  return { ...s, attempt, routed };
}

describe('attemptStage', () => {
  it('sends to an endpoint of the subset and reports the attempt', async () => {
    const s = setup();
    const call = s.routed();
    expect((await s.attempt(call, firstAttempt)).status).toBe(200);
    expect(s.sender.sent).toHaveLength(1);
    expect(s.observer.events.slice(1)).toEqual([
      `attempt 1 first ${s.sender.sent[0]!.endpoint}`,
      'attempt 1 end 200',
    ]);
  });

  it('sends a retry to an endpoint not tried yet, and returns a 5xx as a result', async () => {
    const s = setup();
    s.sender.script = () => answer(503);
    const call = s.routed();
    expect((await s.attempt(call, firstAttempt)).status).toBe(503);
    expect((await s.attempt(call, { signal: firstAttempt.signal, attempt: 2 })).status).toBe(503);
    const [first, second] = s.sender.sent.map((x) => x.endpoint);
    expect(second).not.toBe(first);
    expect(s.observer.events).toContain('retry 2 503');
  });

  it('fails over at once to another endpoint after a connect error, within the same attempt', async () => {
    const s = setup();
    let calls = 0;
    s.sender.script = () => (calls++ === 0 ? refused() : answer(200));
    const call = s.routed();
    expect((await s.attempt(call, firstAttempt)).status).toBe(200);
    expect(new Set(s.sender.sent.map((x) => x.endpoint)).size).toBe(2);
    expect(s.observer.events).toContain('retry 1 connect_error');
  });

  it('lets the connect error stand when no other endpoint is left', async () => {
    const s = setup(['a']);
    s.sender.script = () => refused();
    await expect(s.attempt(s.routed(), firstAttempt)).rejects.toBeInstanceOf(ConnectError);
    expect(s.sender.sent).toHaveLength(1);
  });

  it('passes over an endpoint whose breaker is open, and fails with CircuitOpenError when all are', async () => {
    const s = setup(['a', 'b']);
    s.source.put('services/catalog/policies', {
      breaker: { volume: 1, errorPercent: 50, windowMs: 10_000, openMs: 60_000 },
    });
    s.sender.script = (endpoint) => (endpoint.id === 'a' ? answer(503) : answer(200));
    // Trip a's breaker.
    for (let i = 0; i < 4 && s.breakers.peek('catalog', 'a')?.state !== 'open'; i++) {
      await s.attempt(s.routed(), firstAttempt).catch(() => {});
    }
    expect(s.breakers.peek('catalog', 'a')?.state).toBe('open');
    s.sender.sent.length = 0;
    for (let i = 0; i < 5; i++) await s.attempt(s.routed(), firstAttempt);
    expect(s.sender.sent.every((x) => x.endpoint === 'b')).toBe(true);
    s.sender.script = () => answer(503);
    for (let i = 0; i < 20 && s.breakers.peek('catalog', 'b')?.state !== 'open'; i++) {
      await s.attempt(s.routed(), firstAttempt).catch(() => {});
    }
    expect(s.breakers.peek('catalog', 'b')?.state).toBe('open');
    await expect(s.attempt(s.routed(), firstAttempt)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('fails with NoHealthyEndpointError when the subset is empty', async () => {
    const s = setup([]);
    await expect(s.attempt(s.routed(), firstAttempt)).rejects.toBeInstanceOf(NoHealthyEndpointError);
  });
});
