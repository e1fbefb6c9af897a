import { parseAndValidate, RuleError } from '@meshless/core';
import { type Command, documentName, noMorePositionals, readDocument } from '../command.ts';
import { EXIT, usageError } from '../exit-codes.ts';
import { sectionOfKind } from '../target.ts';

export const validateCommand: Command = {
  name: 'validate',
  usage: '<file|-> --kind <kind>',
  summary: 'check a JSON or YAML document against its kind, offline',
  options: { kind: { type: 'string', short: 'k' } },
  async run(ctx) {
    const [file, ...rest] = ctx.positionals;
    noMorePositionals(rest);
    if (file === undefined) throw usageError('missing file (or - for stdin)');
    const section = sectionOfKind(ctx.values.kind as string | undefined);
    const bytes = await readDocument(ctx, file);
    const name = documentName(file);
    try {
      parseAndValidate(section, bytes, name);
    } catch (error) {
      if (!RuleError.isInstance(error)) throw error;
      const { path, message } = error as RuleError;
      if (ctx.json) ctx.io.json({ ok: false, file: name, kind: section.kind, path, message });
      else ctx.io.err(`invalid: ${name}: ${message}`);
      return EXIT.invalid;
    }
    if (ctx.json) ctx.io.json({ ok: true, file: name, kind: section.kind });
    else ctx.io.out('ok');
    return EXIT.ok;
  },
};
