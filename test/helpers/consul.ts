import { ConsulConnection, ConsulKv } from '@meshless/consul';
import { inject } from 'vitest';

export { eventually, hasApplied, putApplied, uniquePrefix } from './consul-plain.ts';

/** The shared dev agent started by the global setup. */
export function consulAddress(): string {
  return inject('consulAddress');
}

export function kvClient(address = consulAddress()): { kv: ConsulKv; connection: ConsulConnection } {
  const connection = new ConsulConnection({ address });
  return { kv: new ConsulKv(connection), connection };
}
