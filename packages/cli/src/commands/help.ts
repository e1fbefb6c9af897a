import type { Command } from '../command.ts';
import { EXIT, usageError } from '../exit-codes.ts';
import type { ResolvedIo } from '../io.ts';

const GLOBAL_FLAGS = [
  '  --consul <addr>   Consul agent (default CONSUL_HTTP_ADDR, else 127.0.0.1:8500; token: CONSUL_HTTP_TOKEN)',
  '  --prefix <p>      KV prefix of the rules (default meshless; history under <p>-history/)',
  "  --datacenter <dc> datacenter whose KV holds the rules (default MESHLESS_RULES_DATACENTER, else the agent's)",
  '  --json            machine-readable output',
  '  -h, --help        this help',
];

const TARGETS = [
  'Rule targets: <service> <kind> (kind: routes, balancer, policies, inbound), resource <name>,',
  '              defaults (the fleet-wide defaults/policies), or a key such as services/catalog/routes.',
];

export function printUsage(
  write: (line: string) => void,
  commands: readonly Command[],
  command?: Command,
): void {
  if (command) {
    write(`usage: meshless ${command.name} ${command.usage}`);
    write('');
    write(command.summary);
  } else {
    write('usage: meshless <command> [arguments] [flags]');
    write('');
    write('Commands:');
    const width = Math.max(...commands.map((c) => c.name.length));
    for (const c of commands) write(`  ${c.name.padEnd(width)}  ${c.summary}`);
  }
  write('');
  for (const line of TARGETS) write(line);
  write('');
  write('Flags:');
  for (const line of GLOBAL_FLAGS) write(line);
  write('');
  write(
    'Exit codes: 0 ok, 1 invalid document, 2 usage, 3 CAS conflict, 4 not found, 5 Consul unreachable or refused, 6 rolled back, 7 rollout paused.',
  );
}

/** `meshless help [command]` */
export function helpCommand(commands: readonly Command[], io: ResolvedIo): Command {
  return {
    name: 'help',
    usage: '[command]',
    summary: 'show help for meshless or one command',
    async run(ctx) {
      const [name] = ctx.positionals;
      const command = name === undefined ? undefined : commands.find((c) => c.name === name);
      if (name !== undefined && !command) throw usageError(`unknown command ${name}`);
      printUsage(io.out, commands, command);
      return EXIT.ok;
    },
  };
}
