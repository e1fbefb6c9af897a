import { MAX_REGEX_STATES, stateCount } from './regex-nfa.ts';
import { parseRegex } from './regex-parse.ts';

/** Longest regex a route may use. */
export const MAX_REGEX_LENGTH = 256;

/**
 * Checks a route regex before it is accepted. Returns undefined when the pattern is accepted,
 * else the reason, worded for an operator.
 *
 * Route regexes run on every request against values the client controls (headers, paths,
 * query values). They do not run on V8's backtracking engine but on LinearRegex, a lazy DFA
 * whose time is linear in the value's length whatever the pattern. So the rules are about
 * what that engine supports and how big the automaton may get, not about guessing which
 * patterns backtrack (`(a+)+` and `(a|aa)+` are fine):
 *
 * 1. At most {@link MAX_REGEX_LENGTH} characters, and it must compile as a JavaScript regex
 *    (the syntax is JavaScript's, without flags).
 * 2. Only the supported subset (see regex-parse.ts): no backreferences, lookahead, lookbehind,
 *    inline flags or Unicode property escapes.
 * 3. At most {@link MAX_REGEX_STATES} automaton states: counted repetition multiplies, so
 *    `(?:[a-z]{1,100}){1,100}` (about 20,000 states) is rejected.
 */
export function regexProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_REGEX_LENGTH) {
    return `regex is ${pattern.length} characters, over the ${MAX_REGEX_LENGTH}-character limit`;
  }
  const parsed = parseRegex(pattern);
  try {
    new RegExp(pattern);
  } catch (error) {
    // Inline flags `(?i:...)` compile only where V8 has regexp modifiers (Node 23+): give the
    // same reason on every Node.
    if (!parsed.ok && parsed.problem.startsWith('inline flags')) return parsed.problem;
    return `invalid regex: ${(error as Error).message}`;
  }
  if (!parsed.ok) return parsed.problem;
  const states = stateCount(parsed.node);
  if (!(states <= MAX_REGEX_STATES)) {
    const count = Number.isSafeInteger(states) ? String(states) : 'too many';
    return `regex expands to ${count} states, over the limit of ${MAX_REGEX_STATES} (counted repetition like {1,100} multiplies the size)`;
  }
  return undefined;
}
