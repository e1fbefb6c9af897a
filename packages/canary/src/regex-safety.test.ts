import { describe, expect, it } from 'vitest';
import { MAX_REGEX_STATES } from './regex-nfa.ts';
import { MAX_REGEX_LENGTH, regexProblem } from './regex-safety.ts';

describe('regexProblem', () => {
  it('accepts ordinary route patterns', () => {
    for (const p of [
      '^/items/[0-9]+$',
      '/api/v[12]/.*',
      '(foo|bar)+',
      '(ab)+',
      '(a+)?',
      '[a-z]+(-[a-z]+)?',
      '(?:x-)?user-\\d{1,6}',
      '(?<version>v\\d+)\\.json',
      'a{2,}b',
      '\\bbeta\\b.*',
      '[\\w.-]+@example\\.com',
      '\\x41\\u00e9\\t\\/\\-\\cJ[\\b]',
      '[]|[^]',
      'a]}',
    ]) {
      expect(regexProblem(p), p).toBeUndefined();
    }
  });

  it('accepts what a backtracking engine chokes on: the engine is linear whatever the pattern', () => {
    for (const p of [
      '\\w*\\w*\\w*\\w*!',
      '.*.*.*.*=',
      'a+a+a+a+b',
      '(?:a|b)*(?:a|b)*c',
      '(a+)+$',
      '(a*)*',
      '(a|aa)+',
      '(a|)*',
      '(.*a){12}',
      '((a+)b)+',
    ]) {
      expect(regexProblem(p), p).toBeUndefined();
    }
  });

  it('rejects patterns that do not compile, with JavaScript’s message', () => {
    expect(regexProblem('(unclosed')).toMatch(/^invalid regex: /);
    expect(regexProblem('[z-a]')).toMatch(/^invalid regex: /);
    expect(regexProblem('a**')).toMatch(/^invalid regex: /);
  });

  it('rejects constructs a linear-time engine cannot run, saying which', () => {
    const cases: [string, RegExp][] = [
      ['(a)\\1', /^backreferences \(\\1\) are not supported$/],
      ['(?<x>a)\\k<x>', /^backreferences \(\\k<name>\) are not supported$/],
      ['(?=abc)abc.*', /^lookahead \(\(\?=\.\.\.\), \(\?!\.\.\.\)\) is not supported$/],
      ['(?!a)b', /^lookahead/],
      ['(?<=a)b', /^lookbehind \(\(\?<=\.\.\.\), \(\?<!\.\.\.\)\) is not supported$/],
      ['(?<!a)b', /^lookbehind/],
      ['(?i:a)b', /^inline flags/],
      ['\\p{L}+', /^Unicode property escapes/],
    ];
    for (const [p, reason] of cases) expect(regexProblem(p), p).toMatch(reason);
  });

  it('rejects Annex B oddities JavaScript reads in surprising ways', () => {
    const cases: [string, RegExp][] = [
      ['a{,5}', /^a literal \{ must be escaped as \\\{$/],
      ['\\01', /^octal escapes are not supported/],
      ['[\\1]', /^octal escapes are not supported/],
      ['\\8', /^backreferences/],
      ['\\c1', /^\\c must be followed by a letter/],
      ['\\q', /^unsupported escape \\q$/],
      ['\\x4', /^\\x must be followed by two hex digits$/],
      ['\\u{41}', /^\\u must be followed by four hex digits/],
      ['[\\w-z]', /^a range cannot start or end with \\d, \\w or \\s$/],
      ['[\\B]', /^unsupported escape \\B in a character class$/],
    ];
    for (const [p, reason] of cases) expect(regexProblem(p), p).toMatch(reason);
  });

  it('caps the automaton: counted repetition that expands past the state limit is rejected', () => {
    expect(MAX_REGEX_STATES).toBe(128);
    expect(regexProblem('(?:[a-z]{1,100}){1,100}')).toBe(
      'regex expands to 20000 states, over the limit of 128 (counted repetition like {1,100} multiplies the size)',
    );
    // [a-z]{1,n} is 1 + (n - 1) * 2 states, + 1 for the match.
    expect(regexProblem('[a-z]{1,64}')).toBeUndefined(); // 128 states
    expect(regexProblem('[a-z]{1,65}')).toMatch(/^regex expands to 130 states, over the limit of 128/);
    expect(regexProblem('[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')).toBeUndefined();
    expect(regexProblem('a{99999999}')).toMatch(/^regex expands to 100000000 states, over the limit/);
    expect(regexProblem('a{1,99999999999999999999}')).toMatch(/^regex expands to too many states/);
  });

  it('caps the length', () => {
    const longest = '[ab]'.repeat(MAX_REGEX_LENGTH / 4); // 64 states
    expect(regexProblem(longest)).toBeUndefined();
    expect(regexProblem(`${longest}a`)).toMatch(/^regex is 257 characters, over the 256-character limit$/);
  });
});
