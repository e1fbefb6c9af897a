import { RuleError, sectionJsonSchema, validateRuleDocument } from '@meshless/core';
import { describe, expect, it } from 'vitest';
import { routesSection } from './routes-schema.ts';

const subsets = { stable: { meta: { version: 'v1' } }, canary: { meta: { version: 'v2' } } };

/** The RuleError message RuleStore would log and show for this document. */
function errorOf(doc: unknown): string {
  try {
    validateRuleDocument(routesSection, doc, 'meshless/services/catalog/routes');
  } catch (error) {
    expect(error).toBeInstanceOf(RuleError);
    return (error as RuleError).message;
  }
  throw new Error('document was accepted');
}

function routes(...list: unknown[]) {
  return { subsets, routes: list };
}

describe('routesSection', () => {
  it('accepts the DESIGN.md example and a $schema field', () => {
    const doc = {
      $schema: 'https://example.test/routes.json',
      subsets,
      routes: [
        {
          name: 'beta-users',
          match: { headers: { 'x-user-group': { exact: 'beta' } } },
          to: [{ subset: 'canary', weight: 100 }],
        },
        {
          name: 'default',
          stickyBy: { header: 'x-user-id' },
          to: [
            { subset: 'stable', weight: 90 },
            { subset: 'canary', weight: 10 },
          ],
        },
      ],
    };
    const value = validateRuleDocument(routesSection, doc);
    expect(value.routes?.[1]?.to?.[1]).toEqual({ subset: 'canary', weight: 10 });
    expect(routesSection.pattern).toBe('services/*/routes');
    expect(validateRuleDocument(routesSection, {})).toEqual({});
  });

  it('names the route whose weights do not sum to 100', () => {
    const ok = { match: { method: 'POST' }, to: [{ subset: 'stable' }] };
    const bad = {
      to: [
        { subset: 'stable', weight: 80 },
        { subset: 'canary', weight: 10 },
      ],
    };
    expect(errorOf(routes(ok, bad))).toBe('routes[1].to: weights sum to 90, expected 100');
  });

  it('checks each weight is an integer 0-100, and present when there are several', () => {
    expect(errorOf(routes({ to: [{ subset: 'stable', weight: 50.5 }] }))).toMatch(
      /^routes\[0\]\.to\[0\]\.weight: /,
    );
    expect(errorOf(routes({ to: [{ subset: 'stable', weight: 101 }] }))).toMatch(
      /^routes\[0\]\.to\[0\]\.weight: /,
    );
    const zero = routes({
      to: [
        { subset: 'stable', weight: 100 },
        { subset: 'canary', weight: 0 },
      ],
    });
    expect(validateRuleDocument(routesSection, zero).routes?.[0]?.to).toHaveLength(2);
    expect(
      errorOf(
        routes({
          to: [{ subset: 'stable', weight: 100 }, { subset: 'canary' }],
        }),
      ),
    ).toBe('routes[0].to[1].weight: required when a route has several destinations');
  });

  it('names unknown and duplicate subsets', () => {
    const to = [
      { subset: 'stable', weight: 90 },
      { subset: 'canary2', weight: 10 },
    ];
    expect(errorOf(routes({ to }))).toBe('routes[0].to[1].subset: unknown subset "canary2"');
    expect(errorOf(routes({ to: [{ subset: 'stable' }], mirror: { subset: 'shadow', percent: 5 } }))).toBe(
      'routes[0].mirror.subset: unknown subset "shadow"',
    );
    const twice = [
      { subset: 'stable', weight: 50 },
      { subset: 'stable', weight: 50 },
    ];
    expect(errorOf(routes({ to: twice }))).toBe('routes[0].to[1].subset: duplicate destination "stable"');
  });

  it('rejects invalid and unsupported regexes where they are written', () => {
    expect(errorOf(routes({ match: { path: { regex: '/items/(' } } }))).toMatch(
      /^routes\[0\]\.match\.path\.regex: invalid regex: /,
    );
    expect(errorOf(routes({ match: { headers: { 'x-user': { regex: '(a)\\1' } } } }))).toBe(
      'routes[0].match.headers.x-user.regex: backreferences (\\1) are not supported',
    );
    expect(errorOf(routes({ match: { query: { q: { regex: '(?:[a-z]{1,100}){1,100}' } } } }))).toMatch(
      /^routes\[0\]\.match\.query\.q\.regex: regex expands to 20000 states, over the limit of 128/,
    );
    // Linear-time matching: patterns that only a backtracking engine fears are fine.
    const doc = routes({ match: { headers: { 'x-user': { regex: '(a+)+$' } } }, to: [{ subset: 'stable' }] });
    expect(validateRuleDocument(routesSection, doc, 'meshless/services/catalog/routes')).toBeDefined();
  });

  it('rejects duplicate route names, unreachable routes and duplicate headers', () => {
    const a = { name: 'a', match: { method: 'GET' } };
    expect(errorOf(routes(a, { ...a }))).toBe('routes[1].name: duplicate route name "a" (see routes[0])');
    expect(errorOf(routes({ name: 'all' }, a))).toBe(
      'routes[1]: unreachable: routes[0] has no match and catches every request',
    );
    expect(errorOf(routes({ match: { headers: { 'X-A': { exact: '1' }, 'x-a': { present: true } } } }))).toBe(
      'routes[0].match.headers.x-a: duplicate header "x-a" (header names are case-insensitive)',
    );
  });

  it('requires exactly one kind of condition per value match, and one sticky key', () => {
    expect(errorOf(routes({ match: { headers: { a: {} } } }))).toBe(
      'routes[0].match.headers.a: expected one of exact, prefix, regex, present',
    );
    expect(errorOf(routes({ match: { path: { exact: '/', prefix: '/' } } }))).toBe(
      'routes[0].match.path: expected only one of exact, prefix, regex, got exact and prefix',
    );
    expect(errorOf(routes({ stickyBy: { header: 'x-user-id', cookie: 'sid' } }))).toBe(
      'routes[0].stickyBy: expected exactly one of header, cookie',
    );
    expect(errorOf(routes({ stickyBy: { header: 'x user' } }))).toMatch(/^routes\[0\]\.stickyBy\.header: /);
  });

  it('bounds percents and statuses, and refuses unknown fields', () => {
    expect(errorOf(routes({ mirror: { subset: 'canary', percent: 101 } }))).toMatch(
      /^routes\[0\]\.mirror\.percent: /,
    );
    expect(errorOf(routes({ fault: { abort: { percent: -1 } } }))).toMatch(
      /^routes\[0\]\.fault\.abort\.percent: /,
    );
    expect(errorOf(routes({ fault: { abort: { status: 200 } } }))).toMatch(
      /^routes\[0\]\.fault\.abort\.status: /,
    );
    expect(errorOf(routes({ timeoutMs: 0 }))).toMatch(/^routes\[0\]\.timeoutMs: /);
    expect(errorOf(routes({ weigth: 10 }))).toMatch(/^routes\[0\]: .*weigth/);
  });

  it('exports a JSON Schema for editors and the CLI', () => {
    const schema = sectionJsonSchema(routesSection);
    expect(schema).toMatchObject({ title: 'meshless routes', type: 'object' });
    expect(schema.additionalProperties).toBe(false);
  });
});
