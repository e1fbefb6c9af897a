import type { Options } from 'tsup';

/**
 * The build every package shares: ESM + CJS with declarations, for Node 22+. Dependencies (zod,
 * undici, opossum, ...) stay external, so no package bundles a second copy of another's.
 */
export function packageBuild(entry: Record<string, string> = { index: 'src/index.ts' }): Options {
  return { entry, format: ['esm', 'cjs'], dts: true, clean: true, sourcemap: true, target: 'node22' };
}

type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * Keeps `import './<name>.ts'` an import of the built `<name>.js` / `<name>.cjs` (build `src/<name>.ts`
 * as an entry of its own too) instead of bundling it in. A module bundled into an entry runs after all
 * of the entry's external imports (ESM evaluates imports first): too late for the Node.js version check,
 * which must run before undici loads.
 */
export function ownFile(name: string): EsbuildPlugin {
  return {
    name: `own-file:${name}`,
    setup(build) {
      const extension = build.initialOptions.format === 'cjs' ? '.cjs' : '.js';
      build.onResolve({ filter: new RegExp(`^\\./${name}\\.ts$`) }, (args) =>
        args.kind === 'entry-point' ? undefined : { path: `./${name}${extension}`, external: true },
      );
    },
  };
}
