import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.ts';
import { run } from './run.ts';

// Commands that need no Consul; the rest is covered by test/cli.test.ts against a real agent.

const dir = mkdtempSync(join(tmpdir(), 'meshless-cli-unit-'));

async function cli(args: string[], stdin?: string) {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    ...(stdin === undefined ? {} : { stdin: Readable.from([Buffer.from(stdin)]) }),
    cwd: dir,
    env: {},
  });
  return { code, stdout, stderr };
}

describe('meshless (offline commands)', () => {
  it('validates JSON and YAML files, naming the field of the first error', async () => {
    writeFileSync(join(dir, 'ok.yaml'), 'timeoutMs: 300\nretry:\n  attempts: 3\n');
    writeFileSync(join(dir, 'bad.json'), '{"retry": {"attempts": 0}}');
    expect(await cli(['validate', 'ok.yaml', '--kind', 'policies'])).toEqual({
      code: 0,
      stdout: 'ok\n',
      stderr: '',
    });
    const bad = await cli(['validate', 'bad.json', '--kind', 'policies']);
    expect(bad.code).toBe(EXIT.invalid);
    expect(bad.stderr).toMatch(/^invalid: bad\.json: retry\.attempts: /);
    const json = await cli(['validate', '-', '--kind=policies', '--json'], '{"timeoutMs": -1}');
    expect(json.code).toBe(EXIT.invalid);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, kind: 'policies', path: 'timeoutMs' });
  });

  it('prints JSON Schema per kind, and lists the kinds', async () => {
    const { code, stdout } = await cli(['schema', 'routes']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ title: 'meshless routes', type: 'object' });
    // The same schema as the file the package ships (schemas/routes.schema.json), $id included.
    const shipped = readFileSync(
      new URL('../../meshless/schemas/routes.schema.json', import.meta.url),
      'utf8',
    );
    expect(JSON.parse(stdout)).toEqual(JSON.parse(shipped));
    const list = await cli(['schema', '--prefix', 'acme']);
    expect(list.stdout).toMatch(/^KIND +KEY +DESCRIPTION\n/);
    expect(list.stdout).toContain('acme/services/*/routes');
  });

  it('answers usage errors with exit 2 and the command usage, without a stack', async () => {
    const cases = [
      ['frobnicate'],
      ['validate', 'ok.yaml'],
      ['validate', 'missing.json', '--kind', 'routes'],
      ['schema', 'nope'],
      ['put', 'catalog', 'routes', '--cas', 'abc'],
      ['get', 'catalog', '--bogus'],
      ['status', 'catalog', '--consul', 'ftp://x'],
      ['get', 'catalog', 'routes', '--datacenter', ' '],
    ];
    for (const args of cases) {
      const { code, stderr } = await cli(args);
      expect(code, args.join(' ')).toBe(EXIT.usage);
      expect(stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
    expect((await cli(['schema', 'nope'])).stderr).toMatch(/unknown kind nope \(one of: routes, balancer/);
    expect((await cli(['get', 'catalog', '--bogus'])).stderr).toMatch(/Unknown option '--bogus'/);
    expect((await cli([])).code).toBe(EXIT.usage);
  });

  it('prints help on stdout with exit 0', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^usage: meshless <command>/);
    const put = await cli(['put', '--help']);
    expect(put.stdout).toMatch(/^usage: meshless put <service> <kind> \| resource <name> \| defaults/);
    expect((await cli(['help', 'rollback'])).stdout).toMatch(/--to <index>/);
  });
});
