import type { Options } from 'tsup';

/**
 * The build every package shares: ESM + CJS with declarations, for Node 22+. Dependencies (zod,
 * undici, opossum, ...) stay external, so no package bundles a second copy of another's.
 */
export function packageBuild(entry: Record<string, string> = { index: 'src/index.ts' }): Options {
  return { entry, format: ['esm', 'cjs'], dts: true, clean: true, sourcemap: true, target: 'node22' };
}
