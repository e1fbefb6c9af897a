import { type Command, intOption, noMorePositionals } from '../command.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { formatBytes, formatTable, formatTime } from '../table.ts';
import { fullKey, parseTarget, TARGET_USAGE } from '../target.ts';

export const historyCommand: Command = {
  name: 'history',
  usage: `${TARGET_USAGE} [--show <index>]`,
  summary: 'list the stored versions of a rule document (or print one with --show)',
  options: { show: { type: 'string' } },
  async run(ctx) {
    const { target, rest } = parseTarget(ctx.positionals);
    noMorePositionals(rest);
    const show = intOption(ctx, 'show');
    const { kv, history } = ctx.consul();
    const key = fullKey(ctx.prefix, target);
    const versions = await history.list(target.relativeKey);

    if (show !== undefined) {
      const version = versions.find((v) => v.index === show);
      if (!version) throw new CliError(EXIT.notFound, `not found: no version ${show} of ${key} in history`);
      const text = version.value.toString('utf8');
      ctx.io.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
      return EXIT.ok;
    }

    const current = await kv.get(key);
    if (ctx.json) {
      ctx.io.json({
        key,
        history: history.folder(target.relativeKey),
        current: current ? { index: current.modifyIndex, size: current.value.byteLength } : null,
        versions: versions.map((v) => ({ index: v.index, savedAt: v.savedAt ?? null, size: v.size })),
      });
      return EXIT.ok;
    }
    const rows = [
      ...(current ? [[String(current.modifyIndex), 'current', formatBytes(current.value.byteLength)]] : []),
      ...versions.map((v) => [String(v.index), `replaced ${formatTime(v.savedAt)}`, formatBytes(v.size)]),
    ];
    if (rows.length === 0) {
      ctx.io.out(`${key}: no document and no stored version`);
      return EXIT.ok;
    }
    for (const line of formatTable(['INDEX', 'VERSION', 'SIZE'], rows)) ctx.io.out(line);
    return EXIT.ok;
  },
};
