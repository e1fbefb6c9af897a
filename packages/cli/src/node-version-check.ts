// Imported first by cli.ts and built as a file of its own (see tsup.config.ts): on an old Node.js the
// command prints this one line instead of a TypeError from inside undici (even for offline `validate`).
// The comparison is meshless's own, bundled in, so this file loads no package at all.
import { nodeVersionProblem } from '../../meshless/src/node-version.ts';
import { EXIT } from './exit-codes.ts';

const problem = nodeVersionProblem('meshless');
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exit(EXIT.runtime);
}
