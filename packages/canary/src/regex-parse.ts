/**
 * Parser for the route-regex syntax: a documented subset of JavaScript regex syntax (no flags,
 * UTF-16 code units, as `new RegExp(pattern)` reads it) that compiles to an automaton and so
 * matches in linear time (see linear-regex.ts).
 *
 * Accepted: literals and escapes (`\t \n \v \f \r \0 \xHH \uHHHH \cX`, `\` before punctuation),
 * `.`, classes `[...]` / `[^...]` with ranges, `\d \w \s \D \W \S`, groups `(...)`, `(?:...)`,
 * `(?<name>...)` (named groups are plain groups), `|`, quantifiers `* + ? {n} {n,} {n,m}` and
 * their lazy forms (laziness does not change whether the whole value matches), anchors `^ $`
 * and word boundaries `\b \B`.
 * Rejected, with a reason for the operator: backreferences, lookahead, lookbehind, inline flags,
 * Unicode property escapes, octal escapes, Annex B oddities (a lone `{`, `\c` without a letter,
 * unknown letter escapes, a class escape as a range end).
 *
 * Run only on patterns that `new RegExp(pattern)` accepts: JavaScript reports syntax errors
 * itself; this parser only decides the subset and builds the tree.
 */

/** Inclusive code-unit ranges, sorted and merged: [lo0, hi0, lo1, hi1, ...]. */
export type CodeRanges = readonly number[];

export type AssertionKind = 'start' | 'end' | 'word' | 'notWord';

export type RegexNode =
  | { readonly type: 'set'; readonly ranges: CodeRanges }
  | { readonly type: 'concat'; readonly items: readonly RegexNode[] }
  | { readonly type: 'alt'; readonly items: readonly RegexNode[] }
  /** `max` is Infinity for `*`, `+` and `{n,}`. */
  | { readonly type: 'repeat'; readonly item: RegexNode; readonly min: number; readonly max: number }
  | { readonly type: 'assert'; readonly kind: AssertionKind };

export type ParseResult =
  | { readonly ok: true; readonly node: RegexNode }
  | { readonly ok: false; readonly problem: string };

export const MAX_CODE_UNIT = 0xffff;

const DIGIT: CodeRanges = [0x30, 0x39];
export const WORD: CodeRanges = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
// JavaScript's WhiteSpace and LineTerminator code points (ECMA-262 CharacterClassEscape \s).
const SPACE: CodeRanges = normalize([
  0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f,
  0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff,
]);
// `.` without the s flag: anything but a line terminator.
const DOT: CodeRanges = negate([0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]);

/** Sorts and merges [lo, hi] pairs. */
export function normalize(pairs: readonly number[]): CodeRanges {
  const list: [number, number][] = [];
  for (let i = 0; i < pairs.length; i += 2) list.push([pairs[i]!, pairs[i + 1]!]);
  list.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of list) {
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

/** The complement within [0, 0xFFFF] of normalized ranges. */
export function negate(ranges: CodeRanges): CodeRanges {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    if (ranges[i]! > next) out.push(next, ranges[i]! - 1);
    next = ranges[i + 1]! + 1;
  }
  if (next <= MAX_CODE_UNIT) out.push(next, MAX_CODE_UNIT);
  return out;
}

/** Whether `code` is in normalized ranges. */
export function contains(ranges: CodeRanges, code: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) {
    if (code < ranges[i]!) return false;
    if (code <= ranges[i + 1]!) return true;
  }
  return false;
}

class Unsupported extends Error {}

const set = (ranges: CodeRanges): RegexNode => ({ type: 'set', ranges });
const char = (code: number): RegexNode => set([code, code]);
const QUANTIFIER = /\{(\d+)(?:(,)(\d*))?\}/y;
const HEX = /^[0-9a-fA-F]+$/;

/** Parses a pattern that `new RegExp(pattern)` accepts; a reason when it is outside the subset. */
export function parseRegex(pattern: string): ParseResult {
  try {
    const parser = new Parser(pattern);
    const node = parser.alternation();
    if (parser.i < pattern.length) throw new Unsupported(`unexpected ${pattern[parser.i]}`);
    return { ok: true, node };
  } catch (error) {
    if (error instanceof Unsupported) return { ok: false, problem: error.message };
    throw error;
  }
}

class Parser {
  i = 0;
  private readonly p: string;
  constructor(pattern: string) {
    this.p = pattern;
  }

  alternation(): RegexNode {
    const items = [this.sequence()];
    while (this.p[this.i] === '|') {
      this.i++;
      items.push(this.sequence());
    }
    return items.length === 1 ? items[0]! : { type: 'alt', items };
  }

  private sequence(): RegexNode {
    const items: RegexNode[] = [];
    while (this.i < this.p.length && this.p[this.i] !== '|' && this.p[this.i] !== ')') {
      const atom = this.atom();
      items.push(this.quantified(atom));
    }
    return items.length === 1 ? items[0]! : { type: 'concat', items };
  }

  private quantified(item: RegexNode): RegexNode {
    const c = this.p[this.i];
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      QUANTIFIER.lastIndex = this.i;
      const m = QUANTIFIER.exec(this.p);
      // JavaScript already rejected a brace that is not a quantifier after an atom... except
      // Annex B reads it as a literal, which atom() rejects below.
      if (!m) return item;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      this.i += m[0].length - 1;
    } else return item;
    this.i++;
    if (this.p[this.i] === '?') this.i++; // lazy: same set of whole-value matches
    return { type: 'repeat', item, min, max };
  }

  private atom(): RegexNode {
    const p = this.p;
    const c = p[this.i]!;
    this.i++;
    switch (c) {
      case '.':
        return set(DOT);
      case '^':
        return { type: 'assert', kind: 'start' };
      case '$':
        return { type: 'assert', kind: 'end' };
      case '[':
        return this.charClass();
      case '(':
        return this.group();
      case '\\':
        return this.escape();
      case '{':
        throw new Unsupported('a literal { must be escaped as \\{');
      case '*':
      case '+':
      case '?':
        throw new Unsupported(`nothing to repeat before ${c}`);
      default:
        return char(c.charCodeAt(0));
    }
  }

  private group(): RegexNode {
    const p = this.p;
    if (p[this.i] === '?') {
      const kind = p.slice(this.i, this.i + 3);
      if (kind === '?<=' || kind === '?<!')
        throw new Unsupported('lookbehind ((?<=...), (?<!...)) is not supported');
      if (kind.startsWith('?=') || kind.startsWith('?!')) {
        throw new Unsupported('lookahead ((?=...), (?!...)) is not supported');
      }
      if (kind.startsWith('?:')) this.i += 2;
      else if (kind.startsWith('?<')) {
        const end = p.indexOf('>', this.i);
        if (end < 0) throw new Unsupported('unterminated group name');
        this.i = end + 1;
      } else throw new Unsupported('inline flags ((?i:...)) are not supported');
    }
    const inner = this.alternation();
    if (p[this.i] !== ')') throw new Unsupported('unterminated group');
    this.i++;
    return inner;
  }

  private escape(): RegexNode {
    const c = this.p[this.i];
    if (c === undefined) throw new Unsupported('\\ at end of pattern');
    switch (c) {
      case 'b':
        this.i++;
        return { type: 'assert', kind: 'word' };
      case 'B':
        this.i++;
        return { type: 'assert', kind: 'notWord' };
      default: {
        const atom = this.escapeAtom(false);
        return typeof atom === 'number' ? char(atom) : set(atom);
      }
    }
  }

  /** An escape after `\` (outside or inside a class): a code unit or a class escape's ranges. */
  private escapeAtom(inClass: boolean): number | CodeRanges {
    const p = this.p;
    const c = p[this.i]!;
    this.i++;
    switch (c) {
      case 'd':
        return DIGIT;
      case 'D':
        return negate(DIGIT);
      case 'w':
        return WORD;
      case 'W':
        return negate(WORD);
      case 's':
        return SPACE;
      case 'S':
        return negate(SPACE);
      case 't':
        return 0x09;
      case 'n':
        return 0x0a;
      case 'v':
        return 0x0b;
      case 'f':
        return 0x0c;
      case 'r':
        return 0x0d;
      case 'b':
        if (inClass) return 0x08; // [\b] is a backspace
        break;
      case '0':
        if (p[this.i] !== undefined && p[this.i]! >= '0' && p[this.i]! <= '9') {
          throw new Unsupported('octal escapes are not supported (write \\xHH)');
        }
        return 0;
      case 'c': {
        const letter = p[this.i];
        if (letter !== undefined && /[a-zA-Z]/.test(letter)) {
          this.i++;
          return letter.charCodeAt(0) % 32;
        }
        throw new Unsupported('\\c must be followed by a letter (\\cA to \\cZ)');
      }
      case 'x': {
        const hex = p.slice(this.i, this.i + 2);
        if (hex.length === 2 && HEX.test(hex)) {
          this.i += 2;
          return Number.parseInt(hex, 16);
        }
        throw new Unsupported('\\x must be followed by two hex digits');
      }
      case 'u': {
        const hex = p.slice(this.i, this.i + 4);
        if (hex.length === 4 && HEX.test(hex)) {
          this.i += 4;
          return Number.parseInt(hex, 16);
        }
        throw new Unsupported('\\u must be followed by four hex digits (\\u{...} needs the u flag)');
      }
      case 'k':
        throw new Unsupported('backreferences (\\k<name>) are not supported');
      case 'p':
      case 'P':
        throw new Unsupported('Unicode property escapes (\\p{...}) are not supported');
    }
    if (c >= '1' && c <= '9') {
      throw new Unsupported(
        inClass ? 'octal escapes are not supported (write \\xHH)' : 'backreferences (\\1) are not supported',
      );
    }
    if (/[a-zA-Z0-9]/.test(c)) throw new Unsupported(`unsupported escape \\${c}`);
    return c.charCodeAt(0); // \ before punctuation (or any other non-alphanumeric) is the character
  }

  private charClass(): RegexNode {
    const p = this.p;
    const negated = p[this.i] === '^';
    if (negated) this.i++;
    const pairs: number[] = [];
    while (p[this.i] !== ']') {
      if (this.i >= p.length) throw new Unsupported('unterminated character class');
      const first = this.classAtom();
      const dashRange = p[this.i] === '-' && p[this.i + 1] !== ']' && this.i + 1 < p.length;
      if (typeof first !== 'number') {
        if (dashRange) throw new Unsupported('a range cannot start or end with \\d, \\w or \\s');
        pairs.push(...first);
        continue;
      }
      if (!dashRange) {
        pairs.push(first, first);
        continue;
      }
      this.i++; // the dash
      const last = this.classAtom();
      if (typeof last !== 'number') throw new Unsupported('a range cannot start or end with \\d, \\w or \\s');
      if (last < first) throw new Unsupported('range out of order in character class');
      pairs.push(first, last);
    }
    this.i++;
    const ranges = normalize(pairs);
    return set(negated ? negate(ranges) : ranges);
  }

  private classAtom(): number | CodeRanges {
    const c = this.p[this.i]!;
    this.i++;
    if (c !== '\\') return c.charCodeAt(0);
    if (this.p[this.i] === 'B') throw new Unsupported('unsupported escape \\B in a character class');
    if (this.p[this.i] === '-') {
      this.i++;
      return 0x2d;
    }
    return this.escapeAtom(true);
  }
}
