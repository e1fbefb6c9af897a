export { type Command, type CommandContext, globalOptions } from './command.ts';
export { CliError, EXIT, type ExitCode } from './exit-codes.ts';
export type { CliIo, Writer } from './io.ts';
export { commands, run } from './run.ts';
export {
  buildServiceStatus,
  type HealthEntry,
  type InstanceKeyState,
  type InstanceStatus,
  type ServiceStatus,
  type SyncState,
} from './status-model.ts';
