import { type Command, documentName, intOption, noMorePositionals, readDocument } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { fullKey, parseTarget, TARGET_USAGE } from '../target.ts';
import { DEFAULT_KEEP, printWrite, validateOrRefuse, writeRule } from '../write-rule.ts';

export const putCommand: Command = {
  name: 'put',
  usage: `${TARGET_USAGE} [file|-] [--cas <index>] [--keep <n>]`,
  summary: 'validate, then write a rule document with check-and-set, saving the previous version',
  options: { cas: { type: 'string' }, keep: { type: 'string' } },
  async run(ctx) {
    const { target, rest } = parseTarget(ctx.positionals);
    noMorePositionals(rest, 1);
    const [file] = rest;
    const cas = intOption(ctx, 'cas');
    const keep = intOption(ctx, 'keep') ?? DEFAULT_KEEP;
    const bytes = await readDocument(ctx, file);
    validateOrRefuse(target, fullKey(ctx.prefix, target), bytes, documentName(file));
    const result = await writeRule(ctx, target, bytes, { cas, keep });
    printWrite(ctx, 'wrote', result);
    return EXIT.ok;
  },
};
