import type { ConsulConnection } from '@meshless/consul';
import type { SignalSource } from 'meshless/contract';
import { FleetSignals } from '../signals/fleet-signals.ts';

/**
 * The signal source `meshless rollout` judges from when the caller gives none: the fleet-signals
 * reader, finding instances through the catalog (left open: the command's session closes it).
 */
export function defaultSignals(connection: ConsulConnection): SignalSource & { close(): Promise<void> } {
  return new FleetSignals({ consul: connection });
}
