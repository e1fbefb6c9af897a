import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node22',
  // zod (the rule schemas) comes with @meshless/core's install and is not yet in this package's
  // dependencies (the lockfile could not be updated); never bundle a second copy.
});
