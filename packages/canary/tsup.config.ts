import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node22',
  // zod is not (yet) in this package's dependencies (it comes with @meshless/core); never bundle
  // a second copy of it.
});
