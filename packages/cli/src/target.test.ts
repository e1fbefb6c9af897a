import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.ts';
import { fullKey, parseTarget } from './target.ts';

function key(positionals: string[]): [string, string, readonly string[]] {
  const { target, rest } = parseTarget(positionals);
  return [target.section.kind, fullKey('meshless', target), rest];
}

describe('parseTarget', () => {
  it('reads <service> <kind>, resource <name>, defaults and relative keys', () => {
    expect(key(['catalog', 'routes', 'file.json'])).toEqual([
      'routes',
      'meshless/services/catalog/routes',
      ['file.json'],
    ]);
    expect(key(['catalog', 'inbound'])).toEqual(['inbound', 'meshless/services/catalog/inbound', []]);
    expect(key(['resource', 'db.query', '-'])).toEqual(['resource', 'meshless/resources/db.query', ['-']]);
    expect(key(['defaults'])).toEqual(['defaults', 'meshless/defaults/policies', []]);
    // A service literally named "resource" is reachable by its key.
    expect(key(['services/resource/balancer/'])).toEqual([
      'balancer',
      'meshless/services/resource/balancer',
      [],
    ]);
  });

  it('refuses incomplete or unknown targets with a usage error that lists the choices', () => {
    const usage = (positionals: string[]) => {
      try {
        parseTarget(positionals);
      } catch (error) {
        return { code: (error as { exitCode: number }).exitCode, message: (error as Error).message };
      }
      throw new Error('expected a usage error');
    };
    expect(usage([])).toEqual({ code: EXIT.usage, message: expect.stringMatching(/missing rule target/) });
    expect(usage(['catalog']).message).toMatch(/missing kind after service catalog/);
    expect(usage(['catalog', 'defaults']).message).toMatch(/unknown kind defaults .*routes, balancer/);
    expect(usage(['resource']).message).toMatch(/missing resource name/);
    expect(usage(['services/catalog/nonsense']).message).toMatch(/not a rule key/);
  });
});
