import type { Endpoint, Picker } from '@meshless/core';
import { P2cPicker } from './p2c.ts';
import { LeafBalancer } from './stateful-balancer.ts';
import { statsOf, type WeightTable, weightTableOf } from './weights.ts';

class LeastRequestPicker extends P2cPicker {
  protected cost(i: number): number {
    return this.stats[i]!.pending;
  }
}

/**
 * Envoy's least-request: power of two choices over in-flight calls (`onCallStart` /
 * `onCallEnd`), candidates drawn by weight and compared by pending / weight.
 */
export class LeastRequestBalancer extends LeafBalancer {
  private table: WeightTable | undefined;

  protected build(endpoints: readonly Endpoint[]): Picker {
    const stats = statsOf(this.stats, endpoints);
    const table = weightTableOf(this.stats, stats, this.table);
    this.table = table;
    return new LeastRequestPicker(endpoints, stats, table, this.random);
  }
}
