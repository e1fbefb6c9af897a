import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The same fixture class compiled by tsc (TypeScript 5.9) twice, with standard decorators and
// with experimentalDecorators (NestJS), then run on plain Node; the assertions are the same.

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const tsc = join(root, 'node_modules/.bin/tsc');
const out = mkdtempSync(join(tmpdir(), 'meshless-decorators-'));

// The compiled sources import @meshless/* by name: resolve them to the built packages.
symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'), 'dir');
writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');

afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Outcome {
  value?: unknown;
  error?: { name: string; code?: string; message: string; resource?: string; stack?: string };
}

async function compileAndRun(mode: 'standard' | 'legacy'): Promise<Record<string, unknown>> {
  const dir = join(out, mode);
  await run(
    process.execPath,
    [tsc, '-p', join(root, `test/decorators/tsconfig.${mode}.json`), '--outDir', dir],
    {
      cwd: root,
    },
  );
  const { stdout } = await run(process.execPath, [join(dir, 'test/decorators/run-fixture.js')], { cwd: out });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe.each(['standard', 'legacy'] as const)('decorators compiled with %s decorators', (mode) => {
  let r: Record<string, unknown> = {};
  const outcome = (key: string): Outcome => r[key] as Outcome;
  beforeAll(async () => {
    r = await compileAndRun(mode);
  }, 60_000);

  it('keeps the method name, this, arguments and the typed result', () => {
    expect(r.names).toEqual(['slow', 'flaky', 'hangA']);
    expect(r.slowFast).toEqual({ value: 'inv-1 waited 10' });
    expect(r.otherInstance).toEqual({ value: 'inv-2 ok after 1' });
  });

  it('times out with a TimeoutError naming Class.method', () => {
    expect(outcome('slowTimeout').error).toMatchObject({
      name: 'TimeoutError',
      code: 'MESHLESS_TIMEOUT',
      resource: 'Inventory.slow',
      message: 'Inventory.slow timed out after 50 ms',
    });
  });

  it('retries up to attempts, then rethrows the original error with its stack', () => {
    expect(r.flakyRecovers).toEqual({ value: 'inv-1 ok after 3' });
    expect(r.flakyCalls).toBe(3);
    expect(outcome('flakyGivesUp').error).toMatchObject({ name: 'Error', message: 'flaky failure 3' });
    expect(outcome('flakyGivesUp').error!.stack).toMatch(/at Inventory\.flaky/);
    expect(r.flakyGiveUpCalls).toBe(3);
  });

  it('turns a synchronous throw into a rejected Promise', () => {
    expect(r.syncReturnsPromise).toBe(true);
    expect(outcome('syncThrow').error).toMatchObject({ name: 'TypeError', message: 'sync boom' });
  });

  it('composes stacked decorators in the documented order whatever their written order', () => {
    // fallback > retry > timeout: each of the 2 attempts times out, then the fallback answers.
    expect(r.hangA).toEqual({ value: 'from fallback' });
    expect(r.hangB).toEqual({ value: 'from fallback' });
    expect(r.hangACalls).toBe(2);
    expect(r.hangBCalls).toBe(2);
  });

  it('keeps policies per class: instances share the breaker', () => {
    expect(r.guardedOk).toEqual({ value: 'guarded ok' });
    expect(outcome('guardedOpen').error).toMatchObject({
      code: 'MESHLESS_CIRCUIT_OPEN',
      resource: 'Inventory.guarded',
    });
  });

  it('follows rules live with governed(): a timeout rule applies, its deletion reverts', () => {
    expect(r.governedBefore).toEqual({ value: 'found after 50' });
    expect(r.governedAfterRule).toEqual({
      value: 'fallback: TimeoutError: fixture.lookup timed out after 20 ms',
    });
    expect(r.governedAfterDelete).toEqual({ value: 'found after 50' });
  });
});
