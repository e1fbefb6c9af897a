import { parseAndValidate, RuleError } from '@meshless/core';
import type { CommandContext } from './command.ts';
import { CliError, conflictError, EXIT } from './exit-codes.ts';
import { fullKey, type RuleTarget } from './target.ts';

export const DEFAULT_KEEP = 10;

export interface WriteOptions {
  /** Write only if the key's ModifyIndex is this (0: only if absent). Default: the index read just before. */
  readonly cas: number | undefined;
  /** Versions of history to keep; 0 records none. */
  readonly keep: number;
}

export interface WriteResult {
  readonly key: string;
  /** ModifyIndex of the value written (undefined if someone wrote again right after). */
  readonly index: number | undefined;
  /** ModifyIndex it replaced, undefined when the key was absent. */
  readonly previousIndex: number | undefined;
  /** History key the previous version was saved under. */
  readonly savedAs: string | undefined;
  /** KV already held these bytes: nothing written (Consul would not have moved the index either). */
  readonly unchanged: boolean;
}

/** Refuses a document that instances would reject, naming the field. */
export function validateOrRefuse(target: RuleTarget, key: string, bytes: Uint8Array, what: string): void {
  try {
    parseAndValidate(target.section, bytes, key);
  } catch (error) {
    if (!RuleError.isInstance(error)) throw error;
    throw new CliError(
      EXIT.invalid,
      `invalid: ${what}: ${(error as Error).message}\nnothing written to ${key}`,
    );
  }
}

/**
 * Check-and-set write that records the version it replaces. Two operators working from the same
 * read cannot overwrite each other: the second write finds a new ModifyIndex and is refused.
 */
export async function writeRule(
  ctx: CommandContext,
  target: RuleTarget,
  bytes: Uint8Array,
  options: WriteOptions,
): Promise<WriteResult> {
  const { kv, history } = ctx.consul();
  const key = fullKey(ctx.prefix, target);
  const current = await kv.get(key);
  const seen = current?.modifyIndex ?? 0;
  const cas = options.cas ?? seen;
  // An explicit --cas that is already stale: refuse before touching history.
  if (cas !== seen) throw conflictError(key, cas, current?.modifyIndex);
  if (current && Buffer.compare(current.value, bytes) === 0) {
    return { key, index: seen, previousIndex: seen, savedAs: undefined, unchanged: true };
  }
  let savedAs: string | undefined;
  if (current && options.keep > 0) {
    // Saved before the write: if the write then loses, the entry is still a true past version.
    await history.record(target.relativeKey, current, options.keep);
    savedAs = `${history.folder(target.relativeKey)}${current.modifyIndex}`;
  }
  await ctx.io.beforeWrite?.(key);
  if (!(await kv.put(key, bytes, { cas }))) {
    const now = await kv.get(key);
    throw conflictError(key, cas, now?.modifyIndex);
  }
  const after = await kv.get(key);
  const index = after && Buffer.compare(after.value, bytes) === 0 ? after.modifyIndex : undefined;
  return { key, index, previousIndex: current?.modifyIndex, savedAs, unchanged: false };
}

export function printWrite(ctx: CommandContext, verb: string, result: WriteResult, extra = {}): void {
  if (ctx.json) {
    ctx.io.json({ ...result, ...extra });
    return;
  }
  if (result.unchanged) {
    ctx.io.out(`unchanged: ${result.key} already holds this document (ModifyIndex ${result.index})`);
    return;
  }
  const now = result.index === undefined ? '' : ` (ModifyIndex ${result.index})`;
  const was = result.previousIndex === undefined ? 'new key' : `replaced ${result.previousIndex}`;
  ctx.io.out(`${verb} ${result.key}${now}, ${was}`);
  if (result.savedAs) ctx.io.out(`previous version saved as ${result.savedAs}`);
}
