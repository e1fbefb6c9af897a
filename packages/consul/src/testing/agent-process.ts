import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';

/** The `consul` binary: the option, else CONSUL_BIN, else `consul` on the PATH. */
export function consulBinary(binary?: string): string {
  return binary ?? process.env.CONSUL_BIN ?? 'consul';
}

/** A running `consul agent` process, its output appended to a log file. */
export interface AgentProcess {
  readonly child: ChildProcess;
  /** Rejects when the process fails to start or exits; never rejects unobserved. */
  readonly failed: Promise<never>;
}

/**
 * Starts `binary args...` with stdout and stderr appended to `logFile`. The agent dies with this
 * process (a crash, an uncaught error) instead of living on as an orphan holding its ports.
 */
export function spawnAgent(binary: string, args: readonly string[], logFile: string): AgentProcess {
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, { stdio: ['ignore', log, log] });
  } finally {
    closeSync(log); // the child has its own copy; ours would leak one descriptor per start
  }
  child.unref();
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (e) =>
      reject(new Error(`could not start ${binary}: ${e.message} (run scripts/install-consul.sh)`)),
    );
    child.once('exit', (code, sig) => reject(new Error(`consul exited (${code ?? sig}); log: ${logFile}`)));
  });
  failed.catch(() => {});
  return { child, failed };
}

export function isRunning(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Sends `sig` and waits for the exit; after `graceMs` (> 0) escalates to SIGKILL. No-op when not running. */
export async function signalAgent(
  child: ChildProcess | undefined,
  sig: NodeJS.Signals,
  graceMs = 0,
): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Held while we wait: a script with nothing else pending would otherwise end before the exit.
  child.ref();
  child.kill(sig);
  if (graceMs > 0) {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  } else await exited;
  child.unref();
}

/** The leader `GET <url>/v1/status/leader` names (`"127.0.0.2:8300"` -> `127.0.0.2:8300`), or undefined. */
export async function leaderOf(url: string, timeoutMs = 1000): Promise<string | undefined> {
  try {
    const res = await fetch(`${url}/v1/status/leader`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.text()).trim();
    if (!res.ok) return undefined;
    const leader = body.replace(/^"|"$/g, '');
    return leader === '' ? undefined : leader;
  } catch {
    return undefined; // not up, or no answer in time
  }
}

/**
 * Polls `GET <url>/v1/status/leader` every 50 ms until it names a leader. Rejects after `timeoutMs`
 * (with `what` and the log in the message) or as soon as `failed` does (the agent exited).
 */
export async function waitForLeader(
  url: string,
  timeoutMs: number,
  what: string,
  failed?: Promise<never>,
): Promise<string> {
  let stop = false;
  const poll = async (): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (!stop && Date.now() < deadline) {
      const leader = await leaderOf(url);
      if (leader !== undefined) return leader;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${what} has no leader after ${timeoutMs} ms`);
  };
  try {
    return await (failed ? Promise.race([poll(), failed]) : poll());
  } finally {
    stop = true;
  }
}

/** A free TCP port on `host` (the OS picks; we release it just before Consul binds). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
