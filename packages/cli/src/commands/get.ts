import { parseRuleDocument, RuleError, validateRuleDocument } from '@meshless/core';
import { type Command, noMorePositionals } from '../command.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { fullKey, parseTarget, TARGET_USAGE } from '../target.ts';

export const getCommand: Command = {
  name: 'get',
  usage: TARGET_USAGE,
  summary: 'print a rule document (stdout) and its ModifyIndex (stderr)',
  async run(ctx) {
    const { target, rest } = parseTarget(ctx.positionals);
    noMorePositionals(rest);
    const key = fullKey(ctx.prefix, target);
    const entry = await ctx.consul().kv.get(key);
    if (!entry) throw new CliError(EXIT.notFound, `not found: ${key} (no document: built-in defaults apply)`);

    // Say so when KV holds a document instances reject: they keep their last good one.
    let problem: RuleError | undefined;
    let parsed: unknown;
    try {
      parsed = parseRuleDocument(entry.value, key);
      validateRuleDocument(target.section, parsed, key);
    } catch (error) {
      if (!RuleError.isInstance(error)) throw error;
      problem = error as RuleError;
    }
    const text = entry.value.toString('utf8');
    if (ctx.json) {
      ctx.io.json({
        key,
        kind: target.section.kind,
        modifyIndex: entry.modifyIndex,
        valid: problem === undefined,
        ...(problem ? { error: { path: problem.path, message: problem.message } } : {}),
        value: parsed ?? null,
        raw: text,
      });
      return EXIT.ok;
    }
    ctx.io.err(`# ${key} ModifyIndex ${entry.modifyIndex}`);
    if (problem) ctx.io.err(`# warning: invalid, instances keep their last good version: ${problem.message}`);
    ctx.io.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
    return EXIT.ok;
  },
};
