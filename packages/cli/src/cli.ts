// First: on a Node.js too old for meshless's dependencies, print a clear message before they load.
import './node-version-check.ts';
import { run } from './run.ts';

// `meshless schema routes | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// A long-running command stops cleanly on Ctrl-C or a TERM: rollout releases its lock, top
// restores the terminal, dashboard closes its server, event streams and poller.
const LONG_RUNNING = new Set(['rollout', 'top', 'dashboard']);
const stop = new AbortController();
// Other commands keep the default (exit at once); a second signal always exits at once.
if (process.argv.slice(2).some((a) => LONG_RUNNING.has(a))) {
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.once(name, () => {
      stop.abort();
      process.once(name, () => process.exit(130));
    });
  }
}

process.exitCode = await run(process.argv.slice(2), {
  signal: stop.signal,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});
