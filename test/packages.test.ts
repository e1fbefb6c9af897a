// What a stranger gets from the published packages: every tarball carries a README, the LICENSE
// and the metadata registries show; the `meshless` command is a committed file (npm links bins at
// install time, before a fresh clone has built dist/); installing `meshless` pulls neither the
// OpenTelemetry SDK nor a package with an install script. Read from `npm pack --dry-run` and from
// the packages npm installed, offline.
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const NODE_FLOOR = '>=22.19.0';

interface Manifest {
  name: string;
  private?: boolean;
  license?: string;
  engines?: { node?: string };
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
  keywords?: string[];
  bin?: Record<string, string>;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const rootManifest = readManifest(root);
const packageDirs = readdirSync(join(root, 'packages')).filter((d) =>
  existsSync(join(root, 'packages', d, 'package.json')),
);

describe('every package tarball', () => {
  const packed = new Map<string, string[]>();
  beforeAll(async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--workspaces'], {
      cwd: root,
      maxBuffer: 32 * 1024 * 1024,
    });
    for (const p of JSON.parse(stdout) as { name: string; files: { path: string }[] }[]) {
      packed.set(
        p.name,
        p.files.map((f) => f.path),
      );
    }
  }, 60_000);

  it.each(packageDirs)(
    'packages/%s has a README, the LICENSE and the metadata a stranger looks for',
    (dir) => {
      const pkgDir = join(root, 'packages', dir);
      const m = readManifest(pkgDir);
      const files = packed.get(m.name) ?? [];
      expect(files).toContain('package.json');
      expect(files).toContain('README.md');
      expect(files).toContain('LICENSE');
      expect(readFileSync(join(pkgDir, 'LICENSE'), 'utf8')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
      expect(readFileSync(join(pkgDir, 'README.md'), 'utf8')).toMatch(new RegExp(`^# ${m.name}\\n`));
      expect(m.license).toBe('MIT');
      expect(m.engines?.node).toBe(NODE_FLOOR);
      expect(m.repository).toEqual({ ...rootManifest.repository, directory: `packages/${dir}` });
      expect(m.homepage).toBe(
        `${rootManifest.homepage?.replace(/#readme$/, '')}/tree/main/packages/${dir}#readme`,
      );
      expect(m.bugs).toEqual(rootManifest.bugs);
      expect(m.keywords?.length).toBeGreaterThan(0);
    },
  );

  it('the repository named in the manifests is the one the README gives as the home of the project', () => {
    expect(rootManifest.engines?.node).toBe(NODE_FLOOR);
    const url = rootManifest.repository?.url ?? '';
    const home = url.replace(/^git\+/, '').replace(/\.git$/, '');
    expect(home).toMatch(/^https:\/\//);
    expect(rootManifest.homepage).toBe(`${home}#readme`);
    expect(rootManifest.bugs?.url).toBe(`${home}/issues`);
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(home);
  });

  it.each(['meshless', '@meshless/cli'])(
    '%s ships the meshless command as a committed file, not a build output',
    async (name) => {
      const dir = packageDirs
        .map((d) => join(root, 'packages', d))
        .find((d) => readManifest(d).name === name)!;
      const bin = readManifest(dir).bin?.meshless;
      expect(bin).toBeDefined();
      const path = bin!.replace(/^\.\//, '');
      expect(packed.get(name)).toContain(path);
      // A fresh clone has it, so `npm install` links it before anything is built.
      const { stdout } = await run('git', ['ls-files', '--error-unmatch', relative(root, join(dir, path))], {
        cwd: root,
      });
      expect(stdout.trim()).toBe(`packages/${relative(join(root, 'packages'), dir)}/${path}`);
    },
  );
});

describe('the meshless command', () => {
  it('runs in the repository after npm install (npx --no-install meshless)', async () => {
    const link = join(root, 'node_modules', '.bin', 'meshless');
    expect(relative(root, realpathSync(link)).split(sep)).not.toContain('dist');
    const { stdout } = await run(process.execPath, [link, '--help'], { cwd: root });
    expect(stdout).toMatch(/^usage: meshless <command>/);
    expect(stdout).toContain('validate');
  });

  it('of an unbuilt @meshless/cli says how to build it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshless-bin-'));
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(root, 'packages/cli/bin/meshless.js'), join(dir, 'bin/meshless.js'));
    copyFileSync(join(root, 'packages/cli/package.json'), join(dir, 'package.json'));
    const failed = await run(process.execPath, [join(dir, 'bin/meshless.js'), '--help']).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/dist\/cli\.js is missing.*npm run build/s);
  });

  it('of meshless installed without @meshless/cli says how to get it', async () => {
    // Outside the repository, so nothing resolves @meshless/cli.
    const dir = join(mkdtempSync(join(tmpdir(), 'meshless-bin-')), 'node_modules', 'meshless');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    copyFileSync(join(root, 'packages/meshless/bin/meshless.js'), join(dir, 'bin/meshless.js'));
    copyFileSync(join(root, 'packages/meshless/package.json'), join(dir, 'package.json'));
    const failed = await run(process.execPath, [join(dir, 'bin/meshless.js'), '--help']).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('npm install @meshless/cli');
  });
});

/** Where Node (and npm's hoisting) finds `name` for a package in `fromDir`: the nearest node_modules up. */
function resolvePackageDir(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

describe('installing meshless', () => {
  it('pulls neither the OpenTelemetry SDK and exporters nor a package with an install script', () => {
    // What npm installs: dependencies, optional dependencies and (npm 7+) non-optional peers.
    const installed = new Map<string, string>();
    const scripted: string[] = [];
    const visit = (name: string, fromDir: string): void => {
      const dir = resolvePackageDir(name, fromDir);
      expect(dir, `${name} (needed from ${relative(root, fromDir)}) is not installed`).toBeDefined();
      if (installed.has(dir!)) return;
      const m = readManifest(dir!);
      installed.set(dir!, m.name);
      const s = m.scripts ?? {};
      if (s.preinstall || s.install || s.postinstall || existsSync(join(dir!, 'binding.gyp')))
        scripted.push(m.name);
      const peers = Object.keys(m.peerDependencies ?? {}).filter(
        (p) => !m.peerDependenciesMeta?.[p]?.optional,
      );
      for (const dep of [
        ...Object.keys(m.dependencies ?? {}),
        ...Object.keys(m.optionalDependencies ?? {}),
        ...peers,
      ]) {
        visit(dep, dir!);
      }
    };
    visit('meshless', root);
    const names = [...new Set(installed.values())];
    expect(names).toContain('@meshless/tracing');
    expect(names).toContain('@meshless/cli');
    expect(names.filter((n) => n.startsWith('@opentelemetry/'))).toEqual(['@opentelemetry/api']);
    expect(scripted).toEqual([]);
  });
});
