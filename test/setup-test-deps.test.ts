import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// scripts/setup-test-deps.sh, which `npm test` and .ci/run run first. Nothing is removed from this
// machine: MESHLESS_SETUP_ASSUME_MISSING makes the script treat a tool as missing, and
// MESHLESS_SETUP_DRY_RUN prints the commands it would run as root instead of running them.
const root = fileURLToPath(new URL('..', import.meta.url));
const script = `${root}scripts/setup-test-deps.sh`;

function setup(env: Record<string, string> = {}, options: { asNobody?: boolean } = {}) {
  // The message path is for users who cannot install: run it as nobody when the tests run as root.
  const asNobody = options.asNobody === true && process.getuid?.() === 0;
  const command = asNobody ? 'setpriv' : 'bash';
  const args = asNobody ? ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', script] : [script];
  const started = performance.now();
  const result = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    timeout: 10_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  return {
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    ms: performance.now() - started,
  };
}

describe('setup-test-deps.sh', () => {
  it('does nothing, says nothing and is quick when consul, chromium and prometheus are present', () => {
    const runs = Array.from({ length: 3 }, () => setup());
    for (const run of runs)
      expect({ code: run.code, out: run.stdout + run.stderr }).toEqual({ code: 0, out: '' });
    expect(Math.min(...runs.map((run) => run.ms))).toBeLessThan(1_000);
  });

  it('as root on Debian installs what is missing with one apt-get update: consul through install-consul.sh', () => {
    const all = setup({
      MESHLESS_SETUP_DRY_RUN: '1',
      MESHLESS_SETUP_ASSUME_MISSING: 'consul chromium prometheus',
    });
    expect(all.code).toBe(0);
    const steps = all.stdout.split('\n').filter((line) => line.includes('would run: '));
    expect(steps.map((line) => line.replace(/^.*would run: /, ''))).toEqual([
      `bash ${root}scripts/install-consul.sh`, // it runs apt-get update itself
      'apt-get install -y -q --no-install-recommends chromium prometheus',
      // The package would start a daemon on :9090 at every boot; the test needs only the binary.
      'update-rc.d prometheus disable',
      'deb-systemd-helper disable prometheus.service',
    ]);

    const browser = setup({ MESHLESS_SETUP_DRY_RUN: '1', MESHLESS_SETUP_ASSUME_MISSING: 'chromium' });
    expect(browser.code).toBe(0);
    expect(browser.stdout).toContain('missing: chromium;');
    expect(browser.stdout.split('\n').filter((line) => line.includes('would run: '))).toEqual([
      'setup-test-deps: would run: apt-get update -q',
      'setup-test-deps: would run: apt-get install -y -q --no-install-recommends chromium',
    ]);
  });

  it('elsewhere says what is missing and how to get it, and fails', () => {
    const all = setup({ MESHLESS_SETUP_ASSUME_MISSING: 'consul chromium prometheus' }, { asNobody: true });
    expect(all.code).toBe(1);
    expect(all.stdout).toBe('');
    expect(all.stderr).toContain('npm test needs these, missing here: consul chromium prometheus');
    expect(all.stderr).toContain('scripts/install-consul.sh');
    expect(all.stderr).toContain('apt-get install --no-install-recommends chromium');
    expect(all.stderr).toContain('apt-get install --no-install-recommends prometheus');

    const one = setup({ MESHLESS_SETUP_ASSUME_MISSING: 'prometheus' }, { asNobody: true });
    expect(one.code).toBe(1);
    expect(one.stderr).toContain('missing here: prometheus\n');
    expect(one.stderr).not.toContain('chromium (');
    expect(one.stderr).not.toContain('consul ');
  });

  it('is what npm test, npm run test:integration and .ci/run run first', () => {
    const { scripts } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
    expect(scripts.test).toMatch(/^bash scripts\/setup-test-deps\.sh && /);
    expect(scripts['test:integration']).toMatch(/^bash scripts\/setup-test-deps\.sh && /);
    const ci = readFileSync(`${root}.ci/run`, 'utf8');
    expect(ci.indexOf('bash scripts/setup-test-deps.sh')).toBeGreaterThan(-1);
    expect(ci.indexOf('bash scripts/setup-test-deps.sh')).toBeLessThan(ci.indexOf('\nnpm test\n'));
    expect(ci).not.toContain('apt-get');
  });
});
