import { ManualClock } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { currentDeadline, runWithDeadline } from './deadline.ts';
import {
  DEADLINE_HEADER,
  deadlineHeaderValue,
  formatDeadlineHeader,
  parseDeadlineHeader,
} from './deadline-header.ts';
import { InvalidDeadlineHeaderError } from './errors.ts';

describe('x-meshless-deadline', () => {
  it('round-trips the remaining time between a caller and a server with different clocks', () => {
    const caller = new ManualClock(10_000);
    const server = new ManualClock(987_654); // unrelated clock: only the relative value travels
    const header = runWithDeadline(11_500, () => deadlineHeaderValue(caller));
    expect(DEADLINE_HEADER).toBe('x-meshless-deadline');
    expect(header).toBe('1500');
    const parsed = parseDeadlineHeader(header);
    expect(parsed).toEqual({ remainingMs: 1500, error: undefined });
    runWithDeadline(server.now() + parsed.remainingMs!, () => {
      expect(currentDeadline()).toBe(987_654 + 1500);
    });
  });

  it('sends 0 once the deadline has passed, and nothing without a deadline', () => {
    const clock = new ManualClock(5000);
    expect(runWithDeadline(4000, () => deadlineHeaderValue(clock))).toBe('0');
    expect(deadlineHeaderValue(clock)).toBeUndefined();
    expect(formatDeadlineHeader(12.9)).toBe('12');
    expect(formatDeadlineHeader(Number.POSITIVE_INFINITY)).toBe('999999999');
  });

  it('ignores an absent header without an error', () => {
    expect(parseDeadlineHeader(undefined)).toEqual({ remainingMs: undefined, error: undefined });
    expect(parseDeadlineHeader(null)).toEqual({ remainingMs: undefined, error: undefined });
    expect(parseDeadlineHeader([])).toEqual({ remainingMs: undefined, error: undefined });
  });

  it('takes the smallest of repeated values', () => {
    expect(parseDeadlineHeader(['300', '200']).remainingMs).toBe(200);
    expect(parseDeadlineHeader('300, 250').remainingMs).toBe(250);
  });

  it('ignores a bad header and hands back a typed error instead of throwing', () => {
    for (const bad of ['abc', '-5', '1.5', '', ' ', '1e3', '1000000000', '100ms', ['100', 'x']]) {
      const parsed = parseDeadlineHeader(bad);
      expect(parsed.remainingMs).toBeUndefined();
      expect(parsed.error).toBeInstanceOf(InvalidDeadlineHeaderError);
      expect(parsed.error?.code).toBe('MESHLESS_INVALID_DEADLINE_HEADER');
    }
    expect(parseDeadlineHeader('x'.repeat(1000)).error?.value).toHaveLength(64);
  });
});
