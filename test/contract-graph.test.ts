import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// What a tool outside an instance loads to read the KV layout and the check report: the built
// `meshless/contract` entry and the CLI. Each is imported in a child Node.js whose resolve hook
// records every module it loads (both `import` and `require`), so a bundler's view of the sources
// cannot hide an import that the dist files really make. opossum and p-retry are the breaker's and
// the retry policy's runtimes: the contract takes those packages' rule schemas from their `/rule`
// subpaths, which load neither.
const root = fileURLToPath(new URL('..', import.meta.url));
const HEAVY = /^(undici|prom-client|@opentelemetry\/.*|opossum|p-retry)$/;

const recorder = `
import { createRequire, registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';
const urls = new Set();
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.add(r.url); return r; } });
const target = process.argv[1];
if (target.endsWith('.cjs')) createRequire(import.meta.url)(target);
else await import(pathToFileURL(target).href);
process.stdout.write(JSON.stringify([...urls]));
`;

/** The files and third-party packages that loading `file` (relative to the repo) loads. */
function moduleGraph(file: string): { files: string[]; packages: string[] } {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', recorder, join(root, file)], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(result.status, result.stderr).toBe(0);
  const files = (JSON.parse(result.stdout) as string[])
    .filter((u) => u.startsWith('file:'))
    .map((u) => fileURLToPath(u));
  const packages = new Set<string>();
  for (const f of files) {
    const name = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1];
    if (name) packages.add(name);
  }
  return { files, packages: [...packages].sort() };
}

const sdkEntry = /packages\/meshless\/dist\/index\.c?js$/;

describe('the governance-center contract, as built', () => {
  for (const file of ['packages/meshless/dist/contract.js', 'packages/meshless/dist/contract.cjs']) {
    it(`${file} loads neither undici, prom-client, OpenTelemetry, opossum, p-retry nor the SDK entry`, () => {
      const graph = moduleGraph(file);
      expect(graph.packages.filter((p) => HEAVY.test(p))).toEqual([]);
      expect(graph.files.filter((f) => sdkEntry.test(f))).toEqual([]);
      expect(graph.packages).toContain('zod');
    });
  }

  it('the CLI loads the contract, not the SDK: no prom-client, OpenTelemetry, opossum or p-retry', () => {
    const graph = moduleGraph('packages/cli/dist/index.js');
    // undici stays: it is the Consul connection's HTTP client (@meshless/consul).
    expect(graph.packages.filter((p) => HEAVY.test(p) && p !== 'undici')).toEqual([]);
    expect(graph.files.filter((f) => sdkEntry.test(f))).toEqual([]);
    expect(graph.files.some((f) => /packages\/meshless\/dist\/contract\.js$/.test(f))).toBe(true);
  });
});
