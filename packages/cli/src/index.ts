export { type Command, type CommandContext, globalOptions } from './command.ts';
export { CliError, EXIT, type ExitCode } from './exit-codes.ts';
export type { CliIo, Writer } from './io.ts';
export {
  DEFAULT_PLAN,
  type RolloutOptions,
  type RolloutOutcome,
  type RolloutResult,
  type RolloutRun,
  rollout,
  startRollout,
} from './rollout/controller.ts';
export { DEFAULT_JUDGE, type JudgeOptions, judge, type Verdict } from './rollout/judge.ts';
export { parseState, type RolloutState, stateKey } from './rollout/rollout-state.ts';
export { commands, run } from './run.ts';
export {
  FleetSignals,
  type FleetSignalsOptions,
  type FleetSignalsReport,
  type InstanceState,
  readFleetSignals,
} from './signals/fleet-signals.ts';
export { PrometheusSignals, type PrometheusSignalsOptions } from './signals/prometheus-signals.ts';
export {
  DEFAULT_SCRAPE_LIMITS,
  type ScrapeLimits,
  type ScrapeResult,
  type SignalsInstance,
} from './signals/signals-scrape.ts';
export { DEFAULT_SIGNALS_IDENTITY } from './signals/signals-tls.ts';
export {
  buildServiceStatus,
  type HealthEntry,
  type InstanceKeyState,
  type InstanceStatus,
  type ServiceStatus,
  type SyncState,
} from './status-model.ts';
