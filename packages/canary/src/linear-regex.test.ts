import { seededRandom } from '@meshless/core/testing';
import { describe, expect, it } from 'vitest';
import { LinearRegex, MAX_REGEX_INPUT_LENGTH } from './linear-regex.ts';
import { regexProblem } from './regex-safety.ts';

type Random = () => number;

/** A generated pattern and a sampler of strings it (usually) matches, to hit both outcomes. */
interface Gen {
  readonly src: string;
  /** Whether a quantifier may follow (JavaScript refuses to repeat ^, $, \b). */
  readonly quantifiable: boolean;
  sample(random: Random): string;
}

const pick = <T>(random: Random, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const int = (random: Random, n: number) => Math.floor(random() * n);

/** Leaves: each with characters it matches (or '' for assertions). */
const LEAVES: readonly [src: string, samples: string][] = [
  ['a', 'a'],
  ['b', 'b'],
  ['-', '-'],
  ['!', '!'],
  [' ', ' '],
  ['\\.', '.'],
  ['.', 'ab-!é\u0100 '],
  ['\\d', '19'],
  ['\\w', 'a_1B'],
  ['\\W', '-! é\n'],
  ['\\s', ' \n\t\u2028\u00a0'],
  ['\\S', 'a-é'],
  ['\\D', 'a-'],
  ['[a-c]', 'abc'],
  ['[^a]', 'b-\n'],
  ['[\\w-]', 'a-_'],
  ['[^\\s!]', 'a-'],
  ['[!-a]', '!-a1A'],
  ['[]', ''],
  ['[^]', 'a\n\u2028'],
  ['\\x61', 'a'],
  ['\\u0100', '\u0100'],
  ['[\\u00e0-\\u0101]', 'é\u0100'],
  ['\\n', '\n'],
];
const ASSERTIONS = ['^', '$', '\\b', '\\B'];

function leaf(random: Random): Gen {
  if (random() < 0.08) {
    return { src: pick(random, ASSERTIONS), quantifiable: false, sample: () => '' };
  }
  const [src, samples] = pick(random, LEAVES);
  return { src, quantifiable: true, sample: (r) => (samples === '' ? 'x' : pick(r, [...samples])) };
}

/**
 * A random pattern of the supported subset. `nesting` caps nested quantifiers: V8 (the oracle)
 * backtracks exponentially on deeper ones such as ((a*){2,}){2,}.
 */
function generate(random: Random, depth: number, nesting: number, names: { n: number }): Gen {
  if (depth <= 0 || random() < 0.3) return leaf(random);
  const roll = random();
  if (roll < 0.35) {
    const parts = Array.from({ length: 1 + int(random, 3) }, () =>
      generate(random, depth - 1, nesting, names),
    );
    return {
      src: parts.map((p) => p.src).join(''),
      quantifiable: parts.length === 1 && parts[0]!.quantifiable,
      sample: (r) => parts.map((p) => p.sample(r)).join(''),
    };
  }
  if (roll < 0.55) {
    const branches = Array.from({ length: 2 + int(random, 2) }, () =>
      random() < 0.1
        ? { src: '', quantifiable: false, sample: () => '' }
        : generate(random, depth - 1, nesting, names),
    );
    const open = pick(random, ['(', '(?:', `(?<g${names.n++}>`]);
    return {
      src: `${open}${branches.map((b) => b.src).join('|')})`,
      quantifiable: true,
      sample: (r) => pick(r, branches).sample(r),
    };
  }
  if (nesting === 0) return generate(random, depth - 1, 0, names);
  let inner = generate(random, depth - 1, nesting - 1, names);
  if (!inner.quantifiable) inner = { ...inner, src: `(?:${inner.src})`, quantifiable: true };
  const [q, min, max] = pick(random, [
    ['*', 0, 3],
    ['+', 1, 3],
    ['?', 0, 1],
    ['{2}', 2, 2],
    ['{0,2}', 0, 2],
    ['{1,3}', 1, 3],
    ['{2,}', 2, 4],
  ] as const);
  const lazy = random() < 0.2 ? '?' : '';
  return {
    src: `${inner.src}${q}${lazy}`,
    quantifiable: false,
    sample: (r) => Array.from({ length: min + int(r, max - min + 1) }, () => inner.sample(r)).join(''),
  };
}

const NOISE = ['a', 'b', '-', '!', ' ', '.', '1', '_', 'é', '\u0100', '\n', '\u2028', 'B'];

function inputs(random: Random, gen: Gen): string[] {
  const out = [''];
  for (let i = 0; i < 12; i++) out.push(gen.sample(random));
  for (let i = 0; i < 12; i++) {
    const s = gen.sample(random).split('');
    s.splice(int(random, s.length + 1), int(random, 2), pick(random, NOISE)); // one edit
    out.push(s.join(''));
  }
  for (let i = 0; i < 6; i++)
    out.push(Array.from({ length: int(random, 8) }, () => pick(random, NOISE)).join(''));
  return out.map((s) => s.slice(0, 12));
}

/** V8's answer for a whole-value match (safe here: short inputs). */
const v8 = (pattern: string) => new RegExp(`^(?:${pattern})$`);

describe('LinearRegex', () => {
  it('agrees with V8 on thousands of generated patterns and inputs (differential, seeded)', () => {
    const random = seededRandom(20240611);
    let compared = 0;
    let matched = 0;
    for (let n = 0; n < 3000; n++) {
      const gen = generate(random, 4, 2, { n: 0 });
      expect(regexProblem(gen.src), gen.src).toBeUndefined();
      const ours = new LinearRegex(gen.src);
      const theirs = v8(gen.src);
      for (const input of inputs(random, gen)) {
        const expected = theirs.test(input);
        if (ours.test(input) !== expected) {
          expect.fail(`/${gen.src}/ on ${JSON.stringify(input)}: V8 says ${expected}`);
        }
        if (ours.testWithoutDfa(input) !== expected) {
          expect.fail(`/${gen.src}/ on ${JSON.stringify(input)} (bit-parallel NFA): V8 says ${expected}`);
        }
        compared++;
        if (expected) matched++;
      }
    }
    // Both outcomes are well represented, so the comparison means something.
    expect(compared).toBeGreaterThan(80_000);
    expect(matched / compared).toBeGreaterThan(0.2);
    expect(matched / compared).toBeLessThan(0.8);
  });

  it('gives the same answer when a long value leaves the DFA for the bit-parallel NFA midway', () => {
    // V8 cannot be the oracle here (nested quantifiers on long values); the paths check each other,
    // and both are checked against V8 on short values above.
    const random = seededRandom(99);
    let fallbacks = 0;
    const outcomes = new Set<boolean>();
    for (let n = 0; n < 1000; n++) {
      const gen = generate(random, 4, 2, { n: 0 });
      const nfaOnly = new LinearRegex(gen.src);
      for (let k = 0; k < 6; k++) {
        let value = '';
        while (value.length < 150) value += random() < 0.97 ? gen.sample(random) || 'a' : pick(random, NOISE);
        const fresh = new LinearRegex(gen.src); // cold cache: early misses, then maybe the fallback
        const result = fresh.test(value);
        expect(result, `/${gen.src}/ on ${JSON.stringify(value)}`).toBe(nfaOnly.testWithoutDfa(value));
        if (fresh.fallbacks > 0) {
          fallbacks++;
          outcomes.add(result);
        }
      }
    }
    expect(fallbacks).toBeGreaterThan(100);
    expect(outcomes.size).toBe(2);
  });

  it('agrees with V8 on every code unit for the built-in classes and a non-Latin-1 range', () => {
    for (const p of [
      '.',
      '\\s',
      '\\S',
      '\\w',
      '\\W',
      '\\d',
      '\\D',
      '[^]',
      '[\\u00e0-\\u0101\\u2000-\\u3000]',
      '[^\\n\\u2028]',
    ]) {
      const ours = new LinearRegex(p);
      const theirs = v8(p);
      for (let c = 0; c <= 0xffff; c++) {
        const s = String.fromCharCode(c);
        if (ours.test(s) !== theirs.test(s))
          expect.fail(`/${p}/ on U+${c.toString(16)}: V8 says ${theirs.test(s)}`);
      }
    }
  });

  it('matches the whole value, with ^, $, \\b and \\B where they fall', () => {
    const cases: [string, string, boolean][] = [
      ['beta', 'beta', true],
      ['beta', 'beta-eu', false],
      ['beta', 'x-beta', false],
      ['^beta$', 'beta', true],
      ['a^b', 'ab', false],
      ['a$|b', 'a', true],
      ['\\bbeta\\b.*', 'beta users', true],
      ['.*\\bbeta\\b.*', 'the beta users', true],
      ['.*\\bbeta\\b.*', 'alphabeta', false],
      ['a\\Bb', 'ab', true],
      ['a\\B-', 'a-', false],
      ['', '', true],
      ['', 'a', false],
      ['x*', '', true],
    ];
    for (const [p, s, expected] of cases) {
      expect(new LinearRegex(p).test(s), `/${p}/ on ${s}`).toBe(expected);
      expect(v8(p).test(s)).toBe(expected);
    }
  });

  it('runs the issue’s patterns on long adversarial values in linear time', () => {
    const patterns: [string, boolean][] = [
      ['\\w*\\w*\\w*\\w*!', false],
      ['.*.*.*.*=', false],
      ['a+a+a+a+b', false],
      ['(?:a|b)*(?:a|b)*c', false],
      ['(a|aa)+b', false],
      ['(.*a){12}!', false],
      ['(a+)+$', true],
    ];
    for (const [p, matchesAs] of patterns) {
      const re = new LinearRegex(p);
      for (const n of [500, MAX_REGEX_INPUT_LENGTH]) {
        const value = 'a'.repeat(n);
        const start = performance.now();
        const result = re.test(value);
        const ms = performance.now() - start;
        expect(result, p).toBe(matchesAs);
        // V8 takes seconds (500) to forever (8192) on these; we take well under a millisecond.
        expect(ms, `${p} on ${n} characters`).toBeLessThan(50);
      }
    }
  });

  it('does not match a value longer than MAX_REGEX_INPUT_LENGTH (and does not look at it)', () => {
    const any = new LinearRegex('a*');
    expect(MAX_REGEX_INPUT_LENGTH).toBe(8192);
    expect(any.test('a'.repeat(MAX_REGEX_INPUT_LENGTH))).toBe(true);
    expect(any.test('a'.repeat(MAX_REGEX_INPUT_LENGTH + 1))).toBe(false);
    // Node's default header limit is 16 KiB: such a value never reaches the automaton.
    const adversarial = new LinearRegex('\\w*\\w*\\w*\\w*!');
    const start = performance.now();
    expect(adversarial.test('a'.repeat(16 * 1024))).toBe(false);
    expect(performance.now() - start).toBeLessThan(5);
  });

  it('bounds its DFA cache: a pattern with exponentially many DFA states stays correct', () => {
    // (a|b)*a(a|b){12}: the DFA must remember the last 13 characters, 2^13 states.
    const p = '(?:a|b)*a(?:a|b){12}';
    const ours = new LinearRegex(p);
    const theirs = v8(p);
    const random = seededRandom(7);
    const value = (n: number, match: boolean) => {
      const chars = Array.from({ length: n }, () => (random() < 0.5 ? 'a' : 'b'));
      chars[n - 13] = match ? 'a' : 'b';
      return chars.join('');
    };
    // Long values: mostly cache misses, so the rest of the value is matched on the NFA.
    for (let run = 0; run < 6; run++) {
      const s = value(MAX_REGEX_INPUT_LENGTH, run % 2 === 0);
      expect(ours.test(s)).toBe(run % 2 === 0);
      expect(ours.testWithoutDfa(s)).toBe(run % 2 === 0);
      expect(theirs.test(s)).toBe(run % 2 === 0);
    }
    // Many short values: the cache fills, is flushed, and matching goes on.
    for (let run = 0; run < 3000; run++) {
      const s = value(30, run % 3 === 0);
      expect(ours.test(s)).toBe(run % 3 === 0);
    }
    expect(ours.flushes).toBeGreaterThan(0);
    expect(ours.cachedStates).toBeLessThanOrEqual(2048);
  });

  it('refuses a pattern outside the subset (validate with regexProblem first)', () => {
    expect(() => new LinearRegex('(a)\\1')).toThrow(/unsupported regex: backreferences/);
    expect(() => new LinearRegex('(?:[a-z]{1,100}){1,100}')).toThrow(/expands to 20000 states/);
  });
});
