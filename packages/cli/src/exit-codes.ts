/** Exit codes of the `meshless` command, stable across releases (documented in docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** A document failed to parse or validate (validate, put, rollback); nothing was written. */
  invalid: 1,
  /** Bad command line: unknown command or flag, missing argument, unreadable file. */
  usage: 2,
  /** Check-and-set conflict: the key changed between the read and the write; nothing was written. */
  conflict: 3,
  /** The key or history version asked for does not exist. */
  notFound: 4,
  /** Consul could not be reached, or refused the request. */
  consul: 5,
  /** `rollout`: the canary was judged worse and rolled back to 0 %. */
  rolledBack: 6,
  /** `rollout`: paused (a manual edit, too little traffic) or stopped; the state is kept, resumable. */
  paused: 7,
  /** Node.js older than the floor meshless needs (see MIN_NODE_VERSION); nothing ran. */
  runtime: 69,
  /** A bug in meshless: the message asks for a report. */
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An expected failure: its message is printed as is (no stack trace) and the process exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export function usageError(message: string): CliError {
  return new CliError(EXIT.usage, message);
}

/** A CAS write lost: `from` is the index the write was based on, `to` the index in KV now. */
export function conflictError(key: string, from: number, to: number | undefined): CliError {
  const show = (i: number | undefined) => (i === undefined || i === 0 ? 'none' : String(i));
  return new CliError(
    EXIT.conflict,
    `conflict: ${key} was changed by someone else (index ${show(from)} -> ${show(to)}); get it again`,
  );
}
