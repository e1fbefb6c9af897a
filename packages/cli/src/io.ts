import type { ConsulConnection } from '@meshless/consul';
import { type Clock, systemClock } from '@meshless/core';
import type { SignalSource } from 'meshless/contract';

export interface Writer {
  write(chunk: string): unknown;
}

/** Where a command reads and writes. `run()` takes one so tests can call it in-process. */
export interface CliIo {
  readonly stdout: Writer;
  readonly stderr: Writer;
  /** Read for `put ... -`; default none (reading stdin is then a usage error). */
  readonly stdin?: AsyncIterable<Uint8Array | string> & { readonly isTTY?: boolean };
  /** CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, ... Default: none (so only flags count). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Relative file names resolve against this. Default process.cwd(). */
  readonly cwd?: string;
  /** Time stamps of history versions. Default systemClock. */
  readonly clock?: Pick<Clock, 'wallNow'>;
  /**
   * Called by put and rollback after the CAS index is read, just before the write: a seam to
   * simulate a concurrent writer in tests.
   */
  readonly beforeWrite?: (key: string) => void | Promise<void>;
  /** `rollout`'s signal source, given the agent connection. Default the fleet-signals reader. */
  readonly signals?: (connection: ConsulConnection) => SignalSource | Promise<SignalSource>;
  /** Stops a long-running command (`rollout`): cli.ts aborts it on SIGINT/SIGTERM. */
  readonly signal?: AbortSignal;
}

export interface ResolvedIo extends Required<Omit<CliIo, 'stdin' | 'beforeWrite' | 'signals' | 'signal'>> {
  readonly stdin: CliIo['stdin'];
  readonly beforeWrite: CliIo['beforeWrite'];
  readonly signals: CliIo['signals'];
  readonly signal: CliIo['signal'];
  /** Writes one line to stdout. */
  out(line?: string): void;
  /** Writes one line to stderr. */
  err(line?: string): void;
  /** Pretty JSON on stdout, for `--json`. */
  json(value: unknown): void;
}

export function resolveIo(io: CliIo): ResolvedIo {
  return {
    stdout: io.stdout,
    stderr: io.stderr,
    stdin: io.stdin,
    env: io.env ?? {},
    cwd: io.cwd ?? process.cwd(),
    clock: io.clock ?? systemClock,
    beforeWrite: io.beforeWrite,
    signals: io.signals,
    signal: io.signal,
    out: (line = '') => io.stdout.write(`${line}\n`),
    err: (line = '') => io.stderr.write(`${line}\n`),
    json: (value) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}
