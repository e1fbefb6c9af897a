import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.ts';

export default defineConfig([
  {
    ...packageBuild(),
    // The cli entry below builds into the same folder at the same time: leave its files alone.
    clean: ['!cli.js', '!cli.js.map'],
  },
  {
    // The `meshless` bin (package.json "bin": dist/cli.js).
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    banner: { js: '#!/usr/bin/env node' },
    clean: false,
    sourcemap: true,
    target: 'node22',
  },
]);
