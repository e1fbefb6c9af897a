import type { CounterCell, CounterFamily } from './counter-family.ts';

/** Distinct callers given their own series, per family; the rest share `other`. */
export const MAX_CALLER_SERIES = 256;
const OTHER = 'other';

/** One family's prepared cells, bounded on its own: a flood of claimed names must not crowd out verified ones. */
class BoundedCells {
  private readonly cells = new Map<string, CounterCell>();
  private readonly family: CounterFamily;

  constructor(family: CounterFamily) {
    this.family = family;
  }

  cell(service: string, claimed: string, decision?: string): CounterCell {
    // Cut first: a claimed name is a request header (up to its size limit) and keys the map.
    const who = claimed.length > 128 ? claimed.slice(0, 128) : claimed;
    const key = `${service}\u0001${who}\u0001${decision ?? ''}`;
    let cell = this.cells.get(key);
    if (cell === undefined) {
      const bounded = this.cells.size >= MAX_CALLER_SERIES ? OTHER : who;
      cell = this.family.cell(decision === undefined ? [service, bounded] : [service, bounded, decision]);
      if (bounded !== OTHER) this.cells.set(key, cell);
    }
    return cell;
  }
}

/**
 * Zero trust's counts: decisions by verified calling service, and plain requests by the caller
 * they claim (the `x-meshless-caller` header: good for finding who still calls in plain text,
 * never for deciding). Cells are resolved once per caller and kept; series are bounded per family.
 */
export class AuthorizationMetrics {
  private readonly decisions: BoundedCells;
  private readonly plain: BoundedCells;

  constructor(decisions: CounterFamily, plain: CounterFamily) {
    this.decisions = new BoundedCells(decisions);
    this.plain = new BoundedCells(plain);
  }

  decided(service: string, source: string, allowed: boolean): void {
    this.decisions.cell(service, source, allowed ? 'allow' : 'deny').value++;
  }

  plaintext(service: string, claimedCaller: string): void {
    this.plain.cell(service, claimedCaller === '' ? 'unknown' : claimedCaller).value++;
  }
}
