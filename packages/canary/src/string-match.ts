import { z } from 'zod';
import { LinearRegex, MAX_REGEX_INPUT_LENGTH } from './linear-regex.ts';
import { regexProblem } from './regex-safety.ts';

/** A regex a route may use: the supported JavaScript subset, at most 256 characters and MAX_REGEX_STATES states. */
export const regexSchema = z
  .string()
  .superRefine((pattern, ctx) => {
    const problem = regexProblem(pattern);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe(
    `regex (JavaScript syntax, linear-time subset) that must match the whole value (as in Istio); a value over ${MAX_REGEX_INPUT_LENGTH} characters does not match`,
  );

const exact = z.string().optional().describe('the value equals this string (case-sensitive)');
const prefix = z.string().optional().describe('the value starts with this string (case-sensitive)');
const regex = regexSchema.optional();

function exactlyOne(keys: readonly string[]) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const set = keys.filter((k) => value[k] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          set.length === 0
            ? `expected one of ${keys.join(', ')}`
            : `expected only one of ${keys.join(', ')}, got ${set.join(' and ')}`,
      });
    }
  };
}

/** `{ exact } | { prefix } | { regex }`: how a path is matched. */
export const stringMatchSchema = z
  .strictObject({ exact, prefix, regex })
  .superRefine(exactlyOne(['exact', 'prefix', 'regex']));

/** `{ exact } | { prefix } | { regex } | { present }`: how a header or query value is matched. */
export const valueMatchSchema = z
  .strictObject({
    exact,
    prefix,
    regex,
    present: z
      .boolean()
      .optional()
      .describe('true: the header/parameter is present (any value); false: it is absent'),
  })
  .superRefine(exactlyOne(['exact', 'prefix', 'regex', 'present']));

export type StringMatch = z.output<typeof stringMatchSchema>;
export type ValueMatch = z.output<typeof valueMatchSchema>;

/** A compiled string condition. Built once per rule change. */
export interface StringMatcher {
  readonly kind: 'exact' | 'prefix' | 'regex' | 'present' | 'absent';
  readonly value: string;
  /** Linear-time matcher (not a RegExp: route regexes never run on V8's backtracking engine). */
  readonly regex: LinearRegex | undefined;
}

/** Compiles a validated match. Regexes are anchored: they must match the whole value. */
export function compileStringMatch(match: ValueMatch): StringMatcher {
  if (match.exact !== undefined)
    return Object.freeze({ kind: 'exact', value: match.exact, regex: undefined });
  if (match.prefix !== undefined) {
    return Object.freeze({ kind: 'prefix', value: match.prefix, regex: undefined });
  }
  if (match.regex !== undefined) {
    return Object.freeze({ kind: 'regex', value: match.regex, regex: new LinearRegex(match.regex) });
  }
  return Object.freeze({ kind: match.present === false ? 'absent' : 'present', value: '', regex: undefined });
}

/** Whether `value` (undefined: absent) satisfies the condition. */
export function matchString(m: StringMatcher, value: string | undefined): boolean {
  if (value === undefined) return m.kind === 'absent';
  switch (m.kind) {
    case 'exact':
      return value === m.value;
    case 'prefix':
      return value.startsWith(m.value);
    case 'regex':
      return m.regex!.test(value);
    case 'present':
      return true;
    default:
      return false;
  }
}
