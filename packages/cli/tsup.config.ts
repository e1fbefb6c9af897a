import { defineConfig } from 'tsup';
import { ownFile, packageBuild } from '../../tsup.base.ts';

export default defineConfig([
  {
    ...packageBuild(),
    // The cli entry below builds into the same folder at the same time: leave its files alone.
    clean: ['!cli.js', '!cli.js.map', '!node-version-check.js', '!node-version-check.js.map'],
  },
  {
    // The `meshless` bin (package.json "bin": dist/cli.js). The Node.js version check is a file of its
    // own that cli.js imports first (see ownFile).
    entry: { cli: 'src/cli.ts', 'node-version-check': 'src/node-version-check.ts' },
    esbuildPlugins: [ownFile('node-version-check')],
    splitting: false, // both files self-contained: no shared chunk for the other build's clean to remove
    format: ['esm'],
    banner: { js: '#!/usr/bin/env node' },
    clean: false,
    sourcemap: true,
    target: 'node22',
  },
]);
