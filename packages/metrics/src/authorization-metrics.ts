import type { CounterCell, CounterFamily } from './counter-family.ts';

/** Distinct callers given their own series; the rest share `other` (a plain caller names itself, so a label value is untrusted). */
export const MAX_CALLER_SERIES = 256;
const OTHER = 'other';

/**
 * Zero trust's counts: decisions by verified calling service, and plain requests by the caller
 * they claim (the `x-meshless-caller` header: good for finding who still calls in plain text,
 * never for deciding). Cells are resolved once per caller and kept; series are bounded.
 */
export class AuthorizationMetrics {
  private readonly cells = new Map<string, CounterCell>();

  private readonly decisions: CounterFamily;
  private readonly plain: CounterFamily;

  constructor(decisions: CounterFamily, plain: CounterFamily) {
    this.decisions = decisions;
    this.plain = plain;
  }

  decided(service: string, source: string, allowed: boolean): void {
    this.cell(this.decisions, 'd', service, source, allowed ? 'allow' : 'deny').value++;
  }

  plaintext(service: string, claimedCaller: string): void {
    this.cell(this.plain, 'p', service, claimedCaller === '' ? 'unknown' : claimedCaller).value++;
  }

  private cell(
    family: CounterFamily,
    kind: string,
    service: string,
    who: string,
    decision?: string,
  ): CounterCell {
    const key = `${kind}\u0001${service}\u0001${who}\u0001${decision ?? ''}`;
    let cell = this.cells.get(key);
    if (cell === undefined) {
      const bounded = this.cells.size >= MAX_CALLER_SERIES * 2 ? OTHER : who.slice(0, 128);
      cell = family.cell(decision === undefined ? [service, bounded] : [service, bounded, decision]);
      if (bounded !== OTHER) this.cells.set(key, cell);
    }
    return cell;
  }
}
