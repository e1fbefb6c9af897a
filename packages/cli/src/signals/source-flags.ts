import type { ConsulConnection } from '@meshless/consul';
import type { SignalSource } from 'meshless/contract';
import type { CommandContext } from '../command.ts';
import { usageError } from '../exit-codes.ts';
import { FleetSignals } from './fleet-signals.ts';
import { PrometheusSignals } from './prometheus-signals.ts';
import { checkSignalsIdentity } from './signals-tls.ts';

/** A fleet reader or Prometheus: one interface for the commands (close when done, where it has one). */
export type FleetSignalReader = SignalSource & Pick<FleetSignals, 'read'> & { close?(): Promise<void> };

/** The flags of every command that reads the fleet's signals (signals, top, dashboard, rollout). */
export const SIGNAL_SOURCE_OPTIONS = {
  prometheus: { type: 'string' },
  // The Connect identity zero-trust instances are read with (their intentions must allow it).
  as: { type: 'string' },
} as const;

/**
 * What a command reads the fleet from: Prometheus with `--prometheus <url>`, else the fleet-signals
 * reader finding instances through the catalog, as `--as <service>` when given. Flags are checked
 * first (usage errors, nothing opened); the caller closes the source.
 */
export function signalSourceFromFlags(
  ctx: Pick<CommandContext, 'values'>,
  connection: ConsulConnection,
  services?: readonly string[],
): FleetSignalReader {
  const url = ctx.values.prometheus;
  const identity = ctx.values.as;
  if (identity !== undefined) {
    if (url !== undefined)
      throw usageError('--as reads instances directly; it does not apply with --prometheus');
    try {
      checkSignalsIdentity(String(identity));
    } catch (error) {
      throw usageError(`--as: ${(error as Error).message}`);
    }
  }
  if (url !== undefined) {
    try {
      return new PrometheusSignals({ url: String(url) });
    } catch (error) {
      throw usageError(`--prometheus: ${(error as Error).message}`);
    }
  }
  return new FleetSignals({
    consul: connection,
    ...(identity === undefined ? {} : { identity: String(identity) }),
    ...(services && services.length > 0 ? { services } : {}),
  });
}
