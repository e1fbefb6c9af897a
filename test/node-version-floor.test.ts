import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { MIN_NODE_VERSION } from '../packages/meshless/src/node-version.ts';
import { buildCli } from './helpers/built-cli.ts';

// The check only matters in the built packages: bundling is what can move it after undici's import.
// So this runs the dist files, in child processes, on a Node.js made to look like 22.14: an older
// version string and no zstd in zlib, which is exactly what makes undici 8 crash there.
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'meshless-node-floor-'));
const oldNode = join(dir, 'old-node.cjs');
writeFileSync(
  oldNode,
  `Object.defineProperty(process.versions, 'node', { value: '22.14.0' });
const zlib = require('node:zlib');
delete zlib.createZstdDecompress;
delete zlib.createZstdCompress;
`,
);
const rules = join(dir, 'routes.yaml');
writeFileSync(rules, 'routes: []\n');
const library = join(root, 'packages/meshless/dist/index.js');
const libraryCjs = join(root, 'packages/meshless/dist/index.cjs');
const bin = join(root, 'packages/cli/dist/cli.js');
// The bins npm links (`meshless` from @meshless/cli, and from meshless), which load dist/cli.js.
const bins = [join(root, 'packages/cli/bin/meshless.js'), join(root, 'packages/meshless/bin/meshless.js')];
const TOO_OLD = /^meshless needs Node\.js >= 22\.19\.0 \(this is 22\.14\.0\): .*nvm install 22/;

function node(args: string[], preload = true) {
  const result = spawnSync(process.execPath, [...(preload ? ['--require', oldNode] : []), ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Prints `<code> <message>` of what loading `expression` threw, or `loaded`. */
function load(expression: string, preload = true) {
  const script = `Promise.resolve().then(() => ${expression}).then(
    () => console.log('loaded'),
    (e) => console.log(String(e.code), e.message),
  )`;
  return node(['-e', script], preload).stdout.trim();
}

// Build what these files come from.
beforeAll(buildCli, 180_000);

describe('on a Node.js older than the floor', () => {
  it('is a Node.js on which undici 8 crashes (the defect the check explains)', () => {
    expect(load(`require(${JSON.stringify(createRequire(library).resolve('undici'))})`)).toMatch(
      /reading 'bind'/,
    );
  });

  it('import("meshless") fails with the floor, the running version and how to fix it', () => {
    const out = load(`import(${JSON.stringify(library)})`);
    expect(out).toMatch(/^MESHLESS_NODE_TOO_OLD /);
    expect(out.slice('MESHLESS_NODE_TOO_OLD '.length)).toMatch(TOO_OLD);
  });

  it('require("meshless") fails the same way', () => {
    const out = load(`require(${JSON.stringify(libraryCjs)})`);
    expect(out).toMatch(/^MESHLESS_NODE_TOO_OLD /);
    expect(out.slice('MESHLESS_NODE_TOO_OLD '.length)).toMatch(TOO_OLD);
  });

  it('the meshless command prints one line and exits 69, even for offline validate', () => {
    const runs = [
      [bin, '--help'],
      [bin, 'validate', rules, '--kind', 'routes'],
      ...bins.map((b) => [b, '--help']),
    ];
    for (const args of runs) {
      const { code, stdout, stderr } = node(args);
      expect(stdout).toBe('');
      expect(stderr).toMatch(TOO_OLD);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(code).toBe(69);
    }
  });
});

describe('on this Node.js', () => {
  it('loads the library and runs the command', () => {
    expect(load(`import(${JSON.stringify(library)})`, false)).toBe('loaded');
    expect(load(`require(${JSON.stringify(libraryCjs)})`, false)).toBe('loaded');
    const { code, stdout } = node([bin, 'validate', rules, '--kind', 'routes'], false);
    expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: 'ok' });
    for (const b of bins) expect(node([b, '--help'], false)).toMatchObject({ code: 0, stderr: '' });
  });
});

describe('CI', () => {
  it('runs every test, unit and integration, on exactly the floor version', () => {
    const ci = readFileSync(join(root, '.ci/run'), 'utf8');
    const floorRuns = ci.split('\n').filter((line) => line.includes('vitest.mjs'));
    expect(floorRuns).toEqual([`npx -y -p node@${MIN_NODE_VERSION} node node_modules/vitest/vitest.mjs run`]);
  });
});
