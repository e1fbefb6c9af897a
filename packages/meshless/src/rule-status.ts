import {
  type ConsulConnection,
  type ConsulRuleSource,
  RuleStatusWriter,
  type ServiceRegistration,
} from '@meshless/consul';
import type { Clock, Logger, Random, RuleStore } from '@meshless/core';
import type { MeshOptions } from './mesh-options.ts';

export interface StatusWriterParts {
  readonly connection: ConsulConnection;
  readonly source: ConsulRuleSource;
  readonly rules: RuleStore;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: Random;
  /** Named in the entries: the service id when registered, else the service name. */
  readonly instance: string;
}

/**
 * Writes a status entry beside each rejected key under `<prefix>/_status/`, kept in step with
 * the rule store, the source's own status entries and its hold. Dispose to stop.
 */
export function startStatusWriter(p: StatusWriterParts): RuleStatusWriter {
  const { source, rules } = p;
  const writer = new RuleStatusWriter({
    connection: p.connection,
    prefix: source.prefix,
    datacenter: source.datacenter,
    instance: p.instance,
    logger: p.logger,
    clock: p.clock,
    random: p.random,
    held: () => source.hold() !== undefined,
    listedRules: () => source.listedRules,
  });
  const update = () => writer.update(rules.status(), source.statusEntries);
  const subscriptions = [
    rules.onDidApplySnapshot(update),
    source.onDidChangeStatusEntries(update),
    source.onDidChangeHold(update),
  ];
  const dispose = writer.dispose.bind(writer);
  writer.dispose = () => {
    for (const s of subscriptions) s.dispose();
    dispose();
  };
  return writer;
}

/** The name this instance writes status entries under. */
export function statusInstance(options: MeshOptions, registration: ServiceRegistration | undefined): string {
  return registration?.status().id ?? options.service?.name ?? 'meshless';
}
