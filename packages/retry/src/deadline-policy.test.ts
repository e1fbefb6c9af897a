import { ConfigError, DeadlineExceededError, type ExecuteContext } from '@meshless/core';
import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { currentDeadline, remainingMs, runWithDeadline } from './deadline.ts';
import { deadlineHeaderValue } from './deadline-header.ts';
import { DeadlinePolicy } from './deadline-policy.ts';

describe('DeadlinePolicy', () => {
  it('fails fast with DeadlineExceededError when no time is left, without running the work', async () => {
    const clock = new ManualClock(1000);
    const policy = new DeadlinePolicy({ clock, resource: 'catalog' });
    let ran = false;
    const p = runWithDeadline(1000, () =>
      policy.execute(() => {
        ran = true;
      }),
    );
    await expect(p).rejects.toBeInstanceOf(DeadlineExceededError);
    await expect(p).rejects.toMatchObject({ code: 'MESHLESS_DEADLINE_EXCEEDED', resource: 'catalog' });
    expect(ran).toBe(false);
  });

  it('bounds the work by the remaining time: aborts its signal and rejects when the deadline passes', async () => {
    const clock = new ManualClock();
    const policy = new DeadlinePolicy({ clock, resource: 'catalog' });
    let ctx: ExecuteContext | undefined;
    const p = runWithDeadline(300, () =>
      policy.execute((c) => {
        ctx = c;
        return new Promise(() => {});
      }),
    );
    clock.advance(299);
    expect(ctx!.signal.aborted).toBe(false);
    clock.advance(1);
    expect(ctx!.signal.aborted).toBe(true);
    await expect(p).rejects.toBeInstanceOf(DeadlineExceededError);
  });

  it('passes results through and leaves no timer behind', async () => {
    const clock = new ManualClock();
    const policy = new DeadlinePolicy({ clock });
    expect(await runWithDeadline(300, () => policy.execute(async () => 'ok'))).toBe('ok');
    expect(await policy.execute(async () => 'no deadline')).toBe('no deadline');
    expect(clock.pending).toBe(0);
  });

  it('with deadlineMs starts a deadline the work and its outgoing headers see', async () => {
    const clock = new ManualClock(100);
    const policy = new DeadlinePolicy({ clock, deadlineMs: 250 });
    const seen = await policy.execute(() => ({
      at: currentDeadline(),
      left: remainingMs(clock),
      header: deadlineHeaderValue(clock),
    }));
    expect(seen).toEqual({ at: 350, left: 250, header: '250' });
    // an inherited, sooner deadline wins
    expect(await runWithDeadline(150, () => policy.execute(() => currentDeadline()))).toBe(150);
  });

  it('rejects a deadlineMs of 0 or less', () => {
    expect(() => new DeadlinePolicy({ deadlineMs: 0 })).toThrow(ConfigError);
  });
});
