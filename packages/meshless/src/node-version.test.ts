import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIN_NODE_VERSION, nodeVersionAtLeast, nodeVersionProblem } from './node-version.ts';

describe('nodeVersionAtLeast', () => {
  it('compares major, minor and patch as numbers', () => {
    expect(nodeVersionAtLeast('22.19.0', '22.19.0')).toBe(true);
    expect(nodeVersionAtLeast('22.19.1', '22.19.0')).toBe(true);
    expect(nodeVersionAtLeast('22.20.0', '22.19.0')).toBe(true);
    expect(nodeVersionAtLeast('24.0.0', '22.19.0')).toBe(true);
    expect(nodeVersionAtLeast('100.0.0', '22.19.0')).toBe(true);
    expect(nodeVersionAtLeast('22.18.9', '22.19.0')).toBe(false);
    expect(nodeVersionAtLeast('22.14.0', '22.19.0')).toBe(false);
    expect(nodeVersionAtLeast('22.9.0', '22.19.0')).toBe(false); // not a string comparison
    expect(nodeVersionAtLeast('20.20.2', '22.19.0')).toBe(false);
    expect(nodeVersionAtLeast('21.99.99', '22.19.0')).toBe(false);
  });

  it('reads process.version style and pre-release versions', () => {
    expect(nodeVersionAtLeast('v22.19.0', '22.19.0')).toBe(true);
    expect(nodeVersionAtLeast('v22.14.0', '22.19.0')).toBe(false);
    expect(nodeVersionAtLeast('25.0.0-nightly20260101abcdef', '22.19.0')).toBe(true);
    expect(nodeVersionAtLeast('22.18.0-rc.1', '22.19.0')).toBe(false);
  });

  it('lets a version it cannot read pass (it explains a crash, it does not gate runtimes)', () => {
    for (const odd of ['', 'x', '22', '22.19', '22.19.0.1', '22.a.0', '1'.repeat(50)]) {
      expect(nodeVersionAtLeast(odd, '22.19.0'), odd).toBe(true);
    }
  });

  it('defaults to the floor', () => {
    expect(nodeVersionAtLeast(MIN_NODE_VERSION)).toBe(true);
    expect(nodeVersionAtLeast('22.18.0')).toBe(false);
  });
});

describe('nodeVersionProblem', () => {
  it('says what is needed, what runs, and how to fix it', () => {
    const message = nodeVersionProblem('meshless', '22.14.0');
    expect(message).toMatch(/^meshless needs Node\.js >= 22\.19\.0 \(this is 22\.14\.0\): /);
    expect(message).toContain('undici');
    expect(message).toContain('nvm install 22');
  });

  it('is undefined on the floor and above, and on the Node running this test', () => {
    expect(nodeVersionProblem('meshless', '22.19.0')).toBeUndefined();
    expect(nodeVersionProblem('meshless', '24.11.0')).toBeUndefined();
    expect(nodeVersionProblem('meshless')).toBeUndefined();
  });
});

describe('MIN_NODE_VERSION', () => {
  it('is the engines floor of every package', () => {
    const root = new URL('../../../', import.meta.url);
    const manifests = [
      new URL('package.json', root),
      ...readdirSync(new URL('packages/', root)).map((dir) => new URL(`packages/${dir}/package.json`, root)),
    ];
    for (const manifest of manifests) {
      const { name, engines } = JSON.parse(readFileSync(manifest, 'utf8'));
      expect(engines?.node, name).toBe(`>=${MIN_NODE_VERSION}`);
    }
  });
});
