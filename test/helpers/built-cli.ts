import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The built `meshless` entry (dist/cli.js): what a user's shell runs. */
export const CLI_JS = `${root}packages/cli/dist/cli.js`;

/**
 * Builds @meshless/cli and what it depends on (a turbo cache hit when `npm test` has just built),
 * for tests that run the command in its own process. Call from beforeAll, with a long timeout.
 */
export function buildCli(): void {
  execFileSync(`${root}node_modules/.bin/turbo`, ['run', 'build', '--filter=@meshless/cli...'], {
    cwd: root,
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
    stdio: 'ignore',
  });
}

/**
 * `meshless <args>` as its own process (the built entry), its output collected. `stop(sig)`
 * sends the signal and resolves with [code, signal]; SIGKILL after 10 s, since a handle left
 * open would keep it running. Killed at `cleanup` if still alive.
 */
export function spawnBuiltCli(cleanup: (fn: () => void) => void, args: readonly string[]) {
  const child = spawn(process.execPath, [CLI_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const output = { out: '', err: '' };
  child.stdout.on('data', (d) => (output.out += String(d)));
  child.stderr.on('data', (d) => (output.err += String(d)));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const stop = async (sig: NodeJS.Signals) => {
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return { child, output, stop };
}
