import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node22',
  // zod comes from @meshless/core's install; never bundle a second copy (see the report: package.json
  // should list zod once the lockfile can be updated).
});
