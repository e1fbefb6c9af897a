import { type Command, intOption, noMorePositionals } from '../command.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { fullKey, parseTarget, TARGET_USAGE } from '../target.ts';
import { DEFAULT_KEEP, printWrite, validateOrRefuse, writeRule } from '../write-rule.ts';

export const rollbackCommand: Command = {
  name: 'rollback',
  usage: `${TARGET_USAGE} [--to <index>] [--cas <index>] [--keep <n>]`,
  summary: 'restore the previous (or given) stored version with check-and-set',
  options: { to: { type: 'string' }, cas: { type: 'string' }, keep: { type: 'string' } },
  async run(ctx) {
    const { target, rest } = parseTarget(ctx.positionals);
    noMorePositionals(rest);
    const to = intOption(ctx, 'to');
    let cas = intOption(ctx, 'cas');
    const keep = intOption(ctx, 'keep') ?? DEFAULT_KEEP;
    const { kv, history } = ctx.consul();
    const key = fullKey(ctx.prefix, target);
    const versions = await history.list(target.relativeKey);
    let version: (typeof versions)[number] | undefined;
    if (to !== undefined) {
      version = versions.find((v) => v.index === to);
      if (!version) {
        throw new CliError(
          EXIT.notFound,
          `not found: no version ${to} of ${key} in history (see meshless history)`,
        );
      }
    } else {
      // "Previous" is the newest version older than what is in KV now (any, if the key is gone).
      const current = await kv.get(key);
      version = versions.find((v) => current === undefined || v.index < current.modifyIndex);
      if (!version) throw new CliError(EXIT.notFound, `not found: no earlier version of ${key} in history`);
      // The choice was made against this read: a change since must fail the write, not shift it.
      cas ??= current?.modifyIndex ?? 0;
    }
    validateOrRefuse(target, key, version.value, `version ${version.index}`);
    const result = await writeRule(ctx, target, version.value, { cas, keep });
    printWrite(ctx, `rolled back to version ${version.index}:`, result, { restored: version.index });
    return EXIT.ok;
  },
};
