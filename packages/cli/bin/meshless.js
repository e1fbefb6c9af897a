#!/usr/bin/env node
// The `meshless` command. A committed file, not a build output: npm links a package's bins when
// it installs it, and in a fresh clone that is before `npm run build` has written dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli.js', import.meta.url);
if (existsSync(fileURLToPath(entry))) {
  await import(entry.href);
} else {
  process.stderr.write(
    'meshless: @meshless/cli is not built (dist/cli.js is missing). ' +
      'In a clone of the meshless repository, run `npm run build` first.\n',
  );
  process.exitCode = 1;
}
