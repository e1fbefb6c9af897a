// Imported first by index.ts and built as a file of its own (see tsup.config.ts), so that on an old
// Node.js importing meshless fails with this message instead of a TypeError from inside undici.
import { nodeVersionProblem } from './node-version.ts';

const problem = nodeVersionProblem('meshless');
if (problem !== undefined) throw Object.assign(new Error(problem), { code: 'MESHLESS_NODE_TOO_OLD' });
