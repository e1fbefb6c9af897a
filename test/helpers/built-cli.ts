import { execFileSync } from 'node:child_process';
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
