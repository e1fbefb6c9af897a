import { defineSection, ruleRecord } from '@meshless/core';
import { z } from 'zod';
import { stringMatchSchema, valueMatchSchema } from './string-match.ts';

const percent = z.number().min(0).max(100);
const name = z.string().min(1);
const names = z.union([name, z.array(name).min(1)]);
// RFC 9110 token: what a header or cookie name may be.
const token = z
  .string()
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: 'expected a header/cookie name (RFC 9110 token)' });

/**
 * A named group of a service's endpoints. An endpoint belongs to it when it carries every tag
 * and every meta pair listed (an empty definition selects every endpoint).
 */
export const subsetSchema = z.strictObject({
  tags: z.array(name).optional().describe('endpoint has all these tags; default none required'),
  meta: ruleRecord(z.string(), z.string())
    .optional()
    .describe('endpoint meta has all these pairs, e.g. { "version": "v2" }; default none required'),
});

/** What a request must look like for a route to apply. All conditions must hold (AND). */
export const matchSchema = z.strictObject({
  headers: ruleRecord(token, valueMatchSchema)
    .optional()
    .describe('header conditions by name (names are case-insensitive)'),
  path: stringMatchSchema.optional().describe('condition on the URL path (without the query string)'),
  method: names.optional().describe('HTTP method or methods, e.g. "GET" or ["GET", "HEAD"]'),
  query: ruleRecord(name, valueMatchSchema).optional().describe('query parameter conditions by name'),
  caller: names.optional().describe("the calling service's name, or names"),
});

export const destinationSchema = z.strictObject({
  subset: name.describe('a subset defined under `subsets`'),
  weight: z
    .number()
    .int()
    .min(0)
    .max(100)
    .optional()
    .describe(
      'percent of the route traffic, integer 0-100; weights of a route sum to 100; default 100 for a single destination',
    ),
});

export const stickySchema = z
  .strictObject({
    header: token.optional().describe('hash this header value (e.g. x-user-id)'),
    cookie: token.optional().describe('hash this cookie value'),
  })
  .superRefine((value, ctx) => {
    if ((value.header === undefined) === (value.cookie === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of header, cookie' });
    }
  });

export const faultSchema = z.strictObject({
  delay: z
    .strictObject({
      percent: percent.optional().describe('share of requests delayed, percent; default 100'),
      ms: z.number().int().min(0).max(600_000).describe('delay before the request is sent, ms'),
    })
    .optional()
    .describe('delay a share of the matched requests before they are sent; default none'),
  abort: z
    .strictObject({
      percent: percent.optional().describe('share of requests aborted, percent; default 100'),
      status: z.number().int().min(400).max(599).optional().describe('HTTP status returned; default 503'),
    })
    .optional()
    .describe(
      'answer a share of the matched requests with an error status without sending them; default none',
    ),
});

export const routeSchema = z.strictObject({
  name: name.optional().describe('unique name for status and metrics; default `routes[<index>]`'),
  match: matchSchema.optional().describe('conditions; a route without match catches every request'),
  to: z
    .array(destinationSchema)
    .min(1)
    .optional()
    .describe('weighted destinations; default all endpoints of the service'),
  stickyBy: stickySchema
    .optional()
    .describe('choose the destination by a hash of this header/cookie so a user stays on it'),
  mirror: z
    .strictObject({
      subset: name.describe('the subset that gets the copies (defined under `subsets`)'),
      percent: percent.optional().describe('share of requests copied, percent; default 100'),
    })
    .optional()
    .describe('copy requests (fire and forget) to this subset'),
  fault: faultSchema.optional().describe('inject delays and aborts into matched requests'),
  timeoutMs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('time limit of each attempt on this route, ms; overrides timeoutMs of the policies document'),
  retry: z
    .strictObject({
      attempts: z.number().int().min(1).max(10).optional().describe('counts the first try; 1 means no retry'),
      perTryTimeoutMs: z
        .number()
        .int()
        .positive()
        .optional()
        .describe('time limit of each try, ms; overrides retry.perTryTimeoutMs of the policies document'),
    })
    .optional()
    .describe('overrides the policies retry'),
});

/**
 * The `meshless/services/<svc>/routes` document: subsets and ordered routes, first match wins.
 * Every field is optional; a missing document (or one without routes) sends every request to all
 * endpoints. Requests that match no route also go to all endpoints.
 *
 * Cross-field rules (errors name the field): weights of a route are integers 0-100 summing to
 * 100, and required when a route has several destinations; destinations and mirrors name a
 * defined subset, at most once per route; route names are unique; header names are unique
 * ignoring case; no route follows a catch-all route (it could never match).
 */
export const routesRuleSchema = z
  .strictObject({
    $schema: z
      .string()
      .optional()
      .describe(
        'URI or path of the JSON Schema of this document, for editors (completion, validation); ignored by meshless',
      ),
    subsets: ruleRecord(name, subsetSchema).optional().describe('named endpoint groups; default none'),
    routes: z.array(routeSchema).optional().describe('ordered routes, first match wins; default none'),
  })
  .superRefine((doc, ctx) => {
    const subsets = doc.subsets ?? {};
    const known = (s: string) => Object.hasOwn(subsets, s);
    const seenNames = new Map<string, number>();
    let catchAll = -1;
    (doc.routes ?? []).forEach((route, i) => {
      const at = (...path: PropertyKey[]) => ['routes', i, ...path];
      const issue = (message: string, ...path: PropertyKey[]) =>
        ctx.addIssue({ code: 'custom', message, path: at(...path) });

      if (catchAll >= 0) {
        issue(`unreachable: routes[${catchAll}] has no match and catches every request`);
      }
      if (isCatchAll(route.match)) catchAll = i;
      if (route.name !== undefined) {
        const first = seenNames.get(route.name);
        if (first !== undefined) issue(`duplicate route name "${route.name}" (see routes[${first}])`, 'name');
        else seenNames.set(route.name, i);
      }

      const lowerHeaders = new Set<string>();
      for (const header of Object.keys(route.match?.headers ?? {})) {
        const lower = header.toLowerCase();
        if (lowerHeaders.has(lower)) {
          issue(
            `duplicate header "${header}" (header names are case-insensitive)`,
            'match',
            'headers',
            header,
          );
        }
        lowerHeaders.add(lower);
      }

      if (route.to) {
        const to = route.to;
        const seenSubsets = new Set<string>();
        let sum = 0;
        to.forEach((dest, j) => {
          if (!known(dest.subset)) issue(`unknown subset "${dest.subset}"`, 'to', j, 'subset');
          else if (seenSubsets.has(dest.subset)) {
            issue(`duplicate destination "${dest.subset}"`, 'to', j, 'subset');
          }
          seenSubsets.add(dest.subset);
          if (dest.weight === undefined && to.length > 1) {
            issue('required when a route has several destinations', 'to', j, 'weight');
          }
          sum += dest.weight ?? (to.length === 1 ? 100 : 0);
        });
        if (sum !== 100) issue(`weights sum to ${sum}, expected 100`, 'to');
      }
      if (route.mirror && !known(route.mirror.subset)) {
        issue(`unknown subset "${route.mirror.subset}"`, 'mirror', 'subset');
      }
    });
  });

/** True when a match has no condition at all (missing, `{}`, or only empty maps). */
export function isCatchAll(match: RouteMatch | undefined): boolean {
  if (match === undefined) return true;
  return (
    match.path === undefined &&
    match.method === undefined &&
    match.caller === undefined &&
    Object.keys(match.headers ?? {}).length === 0 &&
    Object.keys(match.query ?? {}).length === 0
  );
}

export type SubsetDefinition = z.output<typeof subsetSchema>;
export type RouteMatch = z.output<typeof matchSchema>;
export type RouteDestination = z.output<typeof destinationSchema>;
export type RouteRule = z.output<typeof routeSchema>;
export type RoutesRule = z.output<typeof routesRuleSchema>;

/** The `services/<svc>/routes` section of the KV layout. */
export const routesSection = defineSection<RoutesRule>({
  kind: 'routes',
  pattern: 'services/*/routes',
  description:
    'Route rules for calls to a service: subsets, ordered routes (match -> weighted destinations), sticky key, mirroring, fault injection.',
  schema: routesRuleSchema,
});
