import type { Clock } from '@meshless/core';
import { CALLER_HEADER } from '@meshless/core';
import { DEADLINE_HEADER, formatDeadlineHeader, remainingMs } from '@meshless/retry';
import type { Stage } from './client-stage.ts';

export interface HeadersStageDeps {
  /** This instance's service name, sent as `x-meshless-caller` (matched by callees' `match.caller`). */
  readonly caller: string | undefined;
  readonly clock: Clock;
}

/**
 * Identity and deadline headers: who calls, and by when the answer is of use (the smaller of
 * the timeout in force and what is left of a deadline inherited from the caller).
 */
export function headersStage(d: HeadersStageDeps): Stage {
  // The header value of the last deadline sent: the same timeout each call, so one string.
  let lastMs = Number.NaN;
  let lastHeader = '';
  return (next) => (call) => {
    if (d.caller) call.headers[CALLER_HEADER] = d.caller;
    const timeoutMs = call.policies.timeoutMs;
    // A deadline inherited from the caller (set by the server middleware or runWithDeadline).
    call.inheritedMs = remainingMs(d.clock);
    const remaining = Math.min(call.inheritedMs, timeoutMs ?? Number.POSITIVE_INFINITY);
    if (Number.isFinite(remaining)) {
      if (remaining !== lastMs) {
        lastMs = remaining;
        lastHeader = formatDeadlineHeader(remaining);
      }
      call.headers[DEADLINE_HEADER] = lastHeader;
    }
    return next(call);
  };
}
