import { builtinSections, ruleJsonSchema } from 'meshless/contract';
import { type Command, noMorePositionals } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { formatTable } from '../table.ts';
import { sectionOfKind } from '../target.ts';

export const schemaCommand: Command = {
  name: 'schema',
  usage: '[kind]',
  summary: 'print the JSON Schema of a document kind (no kind: list the kinds)',
  async run(ctx) {
    const [kind, ...rest] = ctx.positionals;
    noMorePositionals(rest);
    if (kind === undefined) {
      const kinds = builtinSections.map((s) => ({
        kind: s.kind,
        key: s.pattern,
        description: s.description,
      }));
      if (ctx.json) ctx.io.json(kinds);
      else {
        const rows = kinds.map((k) => [k.kind, `${ctx.prefix}/${k.key}`, k.description]);
        for (const line of formatTable(['KIND', 'KEY', 'DESCRIPTION'], rows)) ctx.io.out(line);
      }
      return EXIT.ok;
    }
    // The same document as the package's schemas/<kind>.schema.json, $id included.
    ctx.io.json(ruleJsonSchema(sectionOfKind(kind)));
    return EXIT.ok;
  },
};
