import { describe, expect, it } from 'vitest';
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
      '(?=abc)abc.*',
    ]) {
      expect(regexProblem(p), p).toBeUndefined();
    }
  });

  it('rejects patterns that do not compile', () => {
    expect(regexProblem('(unclosed')).toMatch(/^invalid regex: /);
    expect(regexProblem('[z-a]')).toMatch(/^invalid regex: /);
  });

  it('rejects nested quantifiers', () => {
    for (const p of ['(a+)+$', '(a*)*', '(a{1,3})+', '(?:ab?)*', '((a+)b)+', '(x+x+)+y', '(a+){2,}']) {
      expect(regexProblem(p), p).toMatch(/nested quantifiers/);
    }
  });

  it('rejects repeated alternations whose branches overlap', () => {
    for (const p of ['(a|aa)+', '(a|)*', '(\\d|1)+', '(.|x)*', '(ab|a)+', '((a|ab)c|d)+']) {
      expect(regexProblem(p), p).toMatch(/overlapping branches/);
    }
  });

  it('rejects backreferences and lookbehind', () => {
    expect(regexProblem('(a)\\1')).toMatch(/backreferences/);
    expect(regexProblem('(?<x>a)\\k<x>')).toMatch(/backreferences/);
    expect(regexProblem('(?<=a)b')).toMatch(/lookbehind/);
    expect(regexProblem('(?<!a)b')).toMatch(/lookbehind/);
  });

  it('caps the length', () => {
    expect(regexProblem('a'.repeat(MAX_REGEX_LENGTH))).toBeUndefined();
    expect(regexProblem('a'.repeat(MAX_REGEX_LENGTH + 1))).toMatch(/over the 256-character limit/);
  });
});
