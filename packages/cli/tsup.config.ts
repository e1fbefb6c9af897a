import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    // The cli entry below builds into the same folder at the same time: leave its files alone.
    clean: ['!cli.js', '!cli.js.map'],
    sourcemap: true,
    target: 'node22',
    // zod comes from @meshless/core's dependency; never bundle a second copy.
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
