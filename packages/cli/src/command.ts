import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { ParseArgsOptionsConfig } from 'node:util';
import { usageError } from './exit-codes.ts';
import type { ResolvedIo } from './io.ts';
import type { ConsulSession } from './session.ts';

export interface CommandContext {
  readonly io: ResolvedIo;
  /** Positionals after the command name. */
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  /** KV prefix, without slashes at either end. */
  readonly prefix: string;
  readonly json: boolean;
  /** Opens the Consul connection on first use; `run()` closes it. */
  consul(): ConsulSession;
}

/** One `meshless <name>` command (one file each under commands/). */
export interface Command {
  readonly name: string;
  /** Arguments after the name, e.g. `<service> <kind> [file|-] [--cas <index>]`. */
  readonly usage: string;
  readonly summary: string;
  readonly options?: ParseArgsOptionsConfig;
  run(ctx: CommandContext): Promise<number>;
}

/** Flags every command accepts. */
export const globalOptions = {
  consul: { type: 'string' },
  prefix: { type: 'string' },
  datacenter: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

/** An integer flag, or undefined when absent. */
export function intOption(ctx: CommandContext, name: string, min = 0): number | undefined {
  const raw = ctx.values[name];
  if (raw === undefined) return undefined;
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw usageError(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function noMorePositionals(rest: readonly string[], max = 0): void {
  if (rest.length > max) throw usageError(`unexpected argument: ${rest[max]}`);
}

/** Reads a document from a file, or from stdin for `-` (or no file when stdin is not a terminal). */
export async function readDocument(ctx: CommandContext, file: string | undefined): Promise<Uint8Array> {
  if (file === undefined || file === '-') {
    const stdin = ctx.io.stdin;
    if (!stdin || (file === undefined && stdin.isTTY)) {
      throw usageError('no document: give a file, or - to read stdin');
    }
    const chunks: Buffer[] = [];
    for await (const chunk of stdin)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    return Buffer.concat(chunks);
  }
  const path = isAbsolute(file) ? file : resolve(ctx.io.cwd, file);
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw usageError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(error))}`);
  }
}

/** `file.json` for messages; `stdin` for `-`. */
export function documentName(file: string | undefined): string {
  return file === undefined || file === '-' ? 'stdin' : file;
}
