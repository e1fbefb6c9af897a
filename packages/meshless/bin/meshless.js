#!/usr/bin/env node
// `npm install meshless` gives the `meshless` command too. The command lives in @meshless/cli, a
// peer dependency (npm 7+, pnpm and bun install it with meshless): @meshless/cli imports meshless,
// so a plain dependency back would be a cycle (docs/decisions.md).
let entry;
try {
  entry = import.meta.resolve('@meshless/cli/bin/meshless.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  process.stderr.write(
    'meshless: the meshless command is in @meshless/cli, which is not installed here ' +
      '(a peer dependency of meshless that your package manager skipped). ' +
      'Run `npm install @meshless/cli` in this project, then `npx --no-install meshless`.\n',
  );
  process.exitCode = 1;
}
if (entry) await import(entry);
