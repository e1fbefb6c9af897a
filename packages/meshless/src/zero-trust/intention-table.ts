import {
  type AuthzRequest,
  type CompiledPermission,
  compilePermission,
  permissionMatches,
} from './intention-permission.ts';
import type { Intention } from './intention-types.ts';

export type { AuthzRequest } from './intention-permission.ts';

export interface Decision {
  readonly allowed: boolean;
  /** undefined: the default decision applied. */
  readonly intention: Intention | undefined;
  /** Index of the matched L7 permission. */
  readonly permission: number | undefined;
}

/** Problems beyond this many are counted, not listed (10 000 intentions could all be wrong). */
const MAX_PROBLEMS = 100;

interface Entry {
  /** L4: the decision. L7: undefined, see `rules`. */
  readonly decision: Decision | undefined;
  readonly rules: readonly CompiledPermission[] | undefined;
  /** Per rule, its frozen decision. */
  readonly decisions: readonly Decision[];
  readonly needsPath: boolean;
}

/**
 * Intentions for one destination, prepared so that a decision is a Map lookup and, for an L4
 * intention, the return of a frozen object (no allocation, no parsing per request).
 *
 * Consul's semantics (https://developer.hashicorp.com/consul/docs/connect/intentions, "Precedence
 * and Match Order"): intentions are evaluated in precedence order, highest first, and the first
 * whose source matches (the exact name, or '*') alone decides. An exact source outranks '*' for
 * the same destination by precedence itself (web -> api is 9, * -> api is 8), but not across
 * destinations: * -> api (8) comes before web -> * (6). So the order is precedence, then an exact
 * source before '*' at equal precedence, then the order given.
 *
 * L7 (https://developer.hashicorp.com/consul/docs/connect/config-entries/service-intentions,
 * `Sources[].Permissions`): "Permission precedence is applied top to bottom. For any given request
 * the first permission to match in the list is terminal and stops further evaluation. As with L4
 * intentions, traffic that fails to match any of the provided permissions in this intention will
 * be subject to the default intention behavior" (the ACL default policy). So when no permission
 * matches, the DEFAULT decision applies, not a lower intention: an L7 intention for `web` shadows
 * a `*` intention for every request from web.
 */
export class IntentionTable {
  /** Field-path messages about intentions that could not be enforced as written. */
  readonly problems: readonly string[];
  /** How many intentions the table was built from. */
  readonly size: number;
  private readonly bySource: ReadonlyMap<string, Entry>;
  /** The '*' intention that applies to sources without their own, or the default. */
  private readonly fallback: Entry;
  private readonly byDefault: Decision;

  private constructor(
    bySource: ReadonlyMap<string, Entry>,
    fallback: Entry,
    byDefault: Decision,
    problems: readonly string[],
    size: number,
  ) {
    this.bySource = bySource;
    this.fallback = fallback;
    this.byDefault = byDefault;
    this.problems = problems;
    this.size = size;
  }

  /**
   * Prepares `intentions` (for this instance's service, as parsed from Consul). `defaultAllow`
   * is the decision when no intention applies (Consul: the ACL default policy). An intention that
   * cannot be enforced as written denies, and is reported in `problems`.
   */
  static build(intentions: readonly Intention[], defaultAllow: boolean): IntentionTable {
    const problems: string[] = [];
    const byDefault = decision(defaultAllow, undefined, undefined);
    const defaultEntry: Entry = Object.freeze({
      decision: byDefault,
      rules: undefined,
      decisions: [],
      needsPath: false,
    });
    const order: { intention: Intention; index: number; precedence: number }[] = [];
    intentions.forEach((intention, index) => {
      const at = `intentions[${index}]`;
      if (typeof intention !== 'object' || intention === null) {
        problems.push(`${at}: not an object`);
        return;
      }
      if (typeof intention.source !== 'string' || intention.source === '') {
        // No caller has this name (SPIFFE ids have no empty service): it could never apply.
        problems.push(`${at}.source: expected a service name or '*'`);
        return;
      }
      let precedence = intention.precedence;
      if (typeof precedence !== 'number' || Number.isNaN(precedence)) {
        problems.push(`${at}.precedence: not a number; taken as 0`);
        precedence = 0;
      }
      order.push({ intention, index, precedence });
    });
    // Array.prototype.sort is stable: equal keys keep the order given.
    order.sort((a, b) => {
      if (a.precedence !== b.precedence) return b.precedence - a.precedence;
      const aw = a.intention.source === '*';
      return aw === (b.intention.source === '*') ? 0 : aw ? 1 : -1;
    });
    const bySource = new Map<string, Entry>();
    let fallback: Entry | undefined;
    for (const { intention, index } of order) {
      const entry = compileIntention(intention, `intentions[${index}]`, problems);
      if (fallback !== undefined) continue; // shadowed by the '*' above: reported, never applies
      if (intention.source === '*') fallback = entry;
      else if (!bySource.has(intention.source)) bySource.set(intention.source, entry);
    }
    if (problems.length > MAX_PROBLEMS) {
      const more = problems.length - MAX_PROBLEMS;
      problems.length = MAX_PROBLEMS;
      problems.push(`... and ${more} more`);
    }
    return new IntentionTable(
      bySource,
      fallback ?? defaultEntry,
      byDefault,
      Object.freeze(problems),
      intentions.length,
    );
  }

  /** The decision for a request from `sourceService` (the verified caller's service name). */
  decide(sourceService: string, req: AuthzRequest): Decision {
    const entry = this.bySource.get(sourceService) ?? this.fallback;
    const rules = entry.rules;
    if (rules === undefined) return entry.decision!;
    let path = req.path;
    if (entry.needsPath) {
      const q = path.indexOf('?');
      if (q >= 0) path = path.slice(0, q);
    }
    for (let i = 0; i < rules.length; i++) {
      if (permissionMatches(rules[i]!, req, path)) return entry.decisions[i]!;
    }
    return this.byDefault;
  }
}

function compileIntention(intention: Intention, at: string, problems: string[]): Entry {
  const permissions = intention.permissions;
  const l7 =
    permissions !== undefined &&
    permissions !== null &&
    !(Array.isArray(permissions) && permissions.length === 0);
  const action = intention.action;
  const deny = decision(false, intention, undefined);
  const l4 = (d: Decision): Entry =>
    Object.freeze({ decision: d, rules: undefined, decisions: [], needsPath: false });
  if (l7 && action !== undefined) {
    problems.push(`${at}: both action and permissions (Consul allows one); denies`);
    return l4(deny);
  }
  if (!l7) {
    if (action === 'allow' || action === 'deny')
      return l4(decision(action === 'allow', intention, undefined));
    problems.push(`${at}.action: expected "allow" or "deny" when there are no permissions; denies`);
    return l4(deny);
  }
  if (!Array.isArray(permissions)) {
    problems.push(`${at}.permissions: not a list; denies`);
    return l4(deny);
  }
  const rules = permissions.map((p, j) => compilePermission(p, `${at}.permissions[${j}]`, problems));
  return Object.freeze({
    decision: undefined,
    rules: Object.freeze(rules),
    decisions: Object.freeze(rules.map((r, j) => decision(r.allowed, intention, j))),
    needsPath: rules.some(
      (r) => r.pathExact !== undefined || r.pathPrefix !== undefined || r.pathRegex !== undefined,
    ),
  });
}

function decision(
  allowed: boolean,
  intention: Intention | undefined,
  permission: number | undefined,
): Decision {
  return Object.freeze({ allowed, intention, permission });
}
