/** Longest regex a route may use; long patterns are where backtracking hides. */
export const MAX_REGEX_LENGTH = 256;

/**
 * Checks a route regex before it is accepted. Returns undefined when the pattern is accepted,
 * else the reason, worded for an operator.
 *
 * Route regexes run on every request against values the client controls (headers, paths), on
 * V8's backtracking engine. This is a small, conservative static checker (it rejects some safe
 * patterns, never knowingly accepts an exponential one). Rules:
 *
 * 1. At most {@link MAX_REGEX_LENGTH} characters, and it must compile as a JavaScript regex.
 * 2. No backreferences (`\1`, `\k<name>`): they make matching NP-hard.
 * 3. No lookbehind (`(?<=`, `(?<!`): unbounded backwards scans. Lookahead is allowed.
 * 4. No nested quantifiers ("star height" one): a repeating quantifier (`*`, `+`, `{n,}`,
 *    `{n,m}` with m > 1) must not apply to a group that contains any quantifier, at any depth.
 *    Rejects `(a+)+`, `(a*)*`, `(a{1,3})+`, `(?:ab?)*`; `(a+)?` and `(ab)+` are fine.
 * 5. No ambiguous alternation under a repeating quantifier: inside a repeated group, the
 *    branches of an alternation must start with distinct literal characters. An empty branch, or
 *    a branch starting with a class (`.`, `\d`, `[...]`) or a group is taken to overlap every
 *    other branch (an optional first atom is already caught by rule 4). Rejects `(a|aa)+`, `(a|)*`, `(\d|x)+`, and also the safe
 *    `(ab|ac)+` (write `(a[bc])+`); accepts `(foo|bar)+`.
 *
 * Polynomial patterns such as `.*a.*b` pass; header and path lengths bound their cost.
 */
export function regexProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_REGEX_LENGTH) {
    return `regex is ${pattern.length} characters, over the ${MAX_REGEX_LENGTH}-character limit`;
  }
  try {
    new RegExp(pattern);
  } catch (error) {
    return `invalid regex: ${(error as Error).message}`;
  }
  return backtrackingProblem(pattern);
}

/** The first character a branch can start with: a literal, or "anything" (class, group, empty). */
type First = string | typeof ANY;
const ANY = Symbol('any');

interface Frame {
  /** Some quantifier appears inside this group (at any depth). */
  quantified: boolean;
  /** An alternation with overlapping branches appears inside this group (at any depth). */
  ambiguous: boolean;
  /** First atoms of the finished branches. */
  firsts: First[];
  /** First atom of the current branch; undefined while the branch is empty. */
  first: First | undefined;
}

/** The atom a following quantifier applies to. */
interface Atom {
  group: Frame | undefined;
}

const QUANTIFIER = /^\{(\d+)(,(\d*))?\}/;

function newFrame(): Frame {
  return { quantified: false, ambiguous: false, firsts: [], first: undefined };
}

function backtrackingProblem(pattern: string): string | undefined {
  const stack: Frame[] = [newFrame()];
  let atom: Atom | undefined;
  let i = 0;
  const top = () => stack[stack.length - 1]!;
  const addAtom = (first: First, group: Frame | undefined) => {
    const frame = top();
    if (frame.first === undefined) frame.first = first;
    atom = { group };
  };

  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (next >= '1' && next <= '9') return 'backreferences are not allowed';
      if (next === 'k' && pattern[i + 2] === '<') return 'backreferences are not allowed';
      if (next === 'b' || next === 'B') atom = undefined;
      else addAtom(/[a-zA-Z0-9]/.test(next) ? ANY : next, undefined);
      i += 2;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '^') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      addAtom(ANY, undefined);
      i = j + 1;
      continue;
    }
    if (c === '(') {
      if (pattern.startsWith('(?<=', i) || pattern.startsWith('(?<!', i)) {
        return 'lookbehind is not allowed';
      }
      stack.push(newFrame());
      atom = undefined;
      i++;
      // Skip the group's prefix: (?:  (?=  (?!  (?<name>  (?i:
      if (pattern[i] === '?') {
        if (pattern[i + 1] === '<') i = pattern.indexOf('>', i) + 1;
        else {
          i++;
          while (i < pattern.length && /[a-zA-Z-]/.test(pattern[i]!)) i++;
          i++;
        }
      }
      continue;
    }
    if (c === ')') {
      const group = stack.pop()!;
      group.firsts.push(group.first ?? ANY);
      if (group.firsts.length > 1 && overlapping(group.firsts)) group.ambiguous = true;
      const parent = top();
      parent.quantified ||= group.quantified;
      parent.ambiguous ||= group.ambiguous;
      addAtom(ANY, group);
      i++;
      continue;
    }
    if (c === '|') {
      const frame = top();
      frame.firsts.push(frame.first ?? ANY);
      frame.first = undefined;
      atom = undefined;
      i++;
      continue;
    }
    let min = -1;
    let max = -1;
    let length = 1;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = QUANTIFIER.exec(pattern.slice(i));
      if (m) {
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        length = m[0].length;
      }
    }
    if (min >= 0) {
      top().quantified = true;
      if (max > 1 && atom?.group) {
        if (atom.group.quantified) return 'nested quantifiers (like (a+)+) can backtrack catastrophically';
        if (atom.group.ambiguous) {
          return 'a repeated alternation with overlapping branches (like (a|aa)+) can backtrack catastrophically';
        }
      }
      atom = undefined;
      i += length;
      if (pattern[i] === '?') i++; // lazy
      continue;
    }
    if (c === '^' || c === '$') atom = undefined;
    else addAtom(c === '.' ? ANY : c, undefined);
    i++;
  }
  return undefined;
}

function overlapping(firsts: readonly First[]): boolean {
  const seen = new Set<string>();
  for (const f of firsts) {
    if (f === ANY || seen.has(f)) return true;
    seen.add(f);
  }
  return false;
}
