import { parseArgs } from 'node:util';
import { type Command, type CommandContext, globalOptions } from './command.ts';
import { dashboardCommand } from './commands/dashboard.ts';
import { getCommand } from './commands/get.ts';
import { helpCommand, printUsage } from './commands/help.ts';
import { historyCommand } from './commands/history.ts';
import { putCommand } from './commands/put.ts';
import { rollbackCommand } from './commands/rollback.ts';
import { rolloutCommand } from './commands/rollout.ts';
import { schemaCommand } from './commands/schema.ts';
import { signalsCommand } from './commands/signals.ts';
import { statusCommand } from './commands/status.ts';
import { topCommand } from './commands/top.ts';
import { validateCommand } from './commands/validate.ts';
import { CliError, EXIT, usageError } from './exit-codes.ts';
import { type CliIo, resolveIo } from './io.ts';
import { consulFailure, SessionHolder } from './session.ts';

export const commands: readonly Command[] = [
  statusCommand,
  getCommand,
  putCommand,
  historyCommand,
  rollbackCommand,
  rolloutCommand,
  signalsCommand,
  topCommand,
  dashboardCommand,
  validateCommand,
  schemaCommand,
];

/**
 * Runs `meshless <argv...>` and returns the exit code. Never throws and never exits the process:
 * `cli.ts` does that, tests call this in-process with captured output.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const rio = resolveIo(io);
  const all = [...commands, helpCommand(commands, rio)];
  const name = findCommandName(argv);
  const command = all.find((c) => c.name === name);
  let holder: SessionHolder | undefined;
  try {
    if (name === undefined) {
      const wantsHelp = argv.includes('--help') || argv.includes('-h');
      printUsage(wantsHelp ? rio.out : rio.err, commands);
      return wantsHelp ? EXIT.ok : EXIT.usage;
    }
    if (!command) throw usageError(`unknown command ${name} (try meshless help)`);
    const { values, positionals } = parseCommandLine(command, argv);
    if (values.help) {
      printUsage(rio.out, commands, command);
      return EXIT.ok;
    }
    const prefix = String(values.prefix ?? 'meshless').replace(/^\/+|\/+$/g, '');
    if (prefix === '') throw usageError('--prefix: must not be empty');
    const datacenter = String(values.datacenter ?? rio.env.MESHLESS_RULES_DATACENTER ?? '').trim();
    if (values.datacenter !== undefined && datacenter === '')
      throw usageError('--datacenter: must not be empty');
    const session = new SessionHolder(
      values.consul as string | undefined,
      prefix,
      rio,
      datacenter || undefined,
    );
    holder = session;
    const ctx: CommandContext = {
      io: rio,
      positionals: positionals.slice(1),
      values,
      prefix,
      json: values.json === true,
      consul: () => session.get(),
    };
    return await command.run(ctx);
  } catch (error) {
    const failure =
      error instanceof CliError ? error : consulFailure(error, holder?.describe() ?? '127.0.0.1:8500');
    if (failure) {
      rio.err(failure.message);
      if (failure.exitCode === EXIT.usage && command)
        rio.err(`usage: meshless ${command.name} ${command.usage}`);
      return failure.exitCode;
    }
    // Not an expected failure: a bug. Say so, with the stack, so it can be reported.
    rio.err(`meshless: internal error: ${(error as Error)?.stack ?? String(error)}`);
    return EXIT.internal;
  } finally {
    await holder?.close();
  }
}

/** The first positional, skipping global flags and their values. */
function findCommandName(argv: readonly string[]): string | undefined {
  const { tokens } = parseArgs({
    args: [...argv],
    options: globalOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  return tokens.find((t) => t.kind === 'positional')?.value;
}

function parseCommandLine(command: Command, argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: { ...globalOptions, ...command.options },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    // node:util's messages are clear; drop its advice about '--' when it does not apply.
    throw usageError((error as Error).message.split('. To specify a positional')[0]!);
  }
}
