// Each third-party runtime library sits behind one adapter file per package that needs it
// (DESIGN.md §2, issue 12): a second file importing it, even for a type, is a second place to
// change when the library does. zod is exempt: it is the schema language of every rule
// (docs/decisions.md). Read from the sources: TypeScript's own import scanner sees static,
// dynamic, `require()` and `typeof import()` imports, and not comments or strings.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The governed libraries: an exact package name, or a scope (`@opentelemetry/*`) counted as one. */
const LIBRARIES = [
  'undici',
  'prom-client',
  '@opentelemetry/*',
  'opossum',
  'p-retry',
  'js-yaml',
  'yaml',
] as const;

/** The library a module specifier belongs to, if it is one of LIBRARIES. */
function libraryOf(specifier: string): string | undefined {
  return LIBRARIES.find((lib) =>
    lib.endsWith('/*')
      ? specifier.startsWith(lib.slice(0, -1))
      : specifier === lib || specifier.startsWith(`${lib}/`),
  );
}

/** Shipped source files of a package: no tests, test support or testing entry. */
function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'testing') files.push(...sourceFiles(path));
    } else if (
      entry.name.endsWith('.ts') &&
      !entry.name.endsWith('.test.ts') &&
      entry.name !== 'test-support.ts'
    ) {
      files.push(path);
    }
  }
  return files;
}

/** package -> library -> the files (relative to the repo) that import it. */
function importsByPackage(): Map<string, Map<string, string[]>> {
  const result = new Map<string, Map<string, string[]>>();
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const libraries = new Map<string, string[]>();
    let src: string[];
    try {
      src = sourceFiles(join(root, 'packages', pkg, 'src'));
    } catch {
      continue; // not a package with sources
    }
    for (const file of src) {
      const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      const seen = new Set(importedFiles.map((f) => libraryOf(f.fileName)).filter((l) => l !== undefined));
      for (const lib of seen) {
        const files = libraries.get(lib) ?? [];
        files.push(relative(root, file));
        libraries.set(lib, files);
      }
    }
    result.set(pkg, libraries);
  }
  return result;
}

describe('third-party adapters', () => {
  const imports = importsByPackage();

  it('each library is imported by one file per package', () => {
    const spread: string[] = [];
    for (const [pkg, libraries] of imports) {
      for (const [lib, files] of libraries) {
        if (files.length > 1) spread.push(`${pkg}: ${lib} in ${files.sort().join(', ')}`);
      }
    }
    expect(spread, `libraries imported by more than one file:\n${spread.join('\n')}`).toEqual([]);
  });

  it('sees the adapters it checks (the scan is not blind)', () => {
    const found = new Set([...imports.values()].flatMap((libraries) => [...libraries.keys()]));
    expect([...found].sort()).toEqual([...LIBRARIES].sort());
  });
});
