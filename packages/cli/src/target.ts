import { matchSection, type RuleSection, sectionKey } from '@meshless/core';
import { builtinSections } from 'meshless/contract';
import { usageError } from './exit-codes.ts';

/** The document kinds a service has under `services/<svc>/`. */
export const SERVICE_KINDS = ['routes', 'balancer', 'policies', 'inbound'] as const;

export const TARGET_USAGE = '<service> <kind> | resource <name> | defaults | <key>';

/** One rule document: its section, the name `*` stands for, and its key relative to the prefix. */
export interface RuleTarget {
  readonly section: RuleSection;
  readonly name: string;
  /** `services/catalog/routes`, `resources/db.query`, `defaults/policies` */
  readonly relativeKey: string;
}

export interface ParsedTarget {
  readonly target: RuleTarget;
  /** Positionals after the target (e.g. put's file). */
  readonly rest: readonly string[];
}

/** The section of a kind name, or a usage error listing the kinds. */
export function sectionOfKind(kind: string | undefined): RuleSection {
  const section = builtinSections.find((s) => s.kind === kind);
  if (!section) {
    const kinds = builtinSections.map((s) => s.kind).join(', ');
    throw usageError(
      kind === undefined ? `missing kind (one of: ${kinds})` : `unknown kind ${kind} (one of: ${kinds})`,
    );
  }
  return section;
}

/**
 * Reads a rule target from the front of the positionals:
 * - `<service> <kind>`, kind one of routes, balancer, policies, inbound
 * - `resource <name>`
 * - `defaults` (the fleet-wide `defaults/policies`)
 * - a key relative to the prefix containing a slash (`services/catalog/routes`), which also reaches
 *   a service literally named `resource` or `defaults`.
 */
export function parseTarget(positionals: readonly string[]): ParsedTarget {
  const [first, second] = positionals;
  if (first === undefined || first === '') throw usageError(`missing rule target: ${TARGET_USAGE}`);
  if (first.includes('/')) {
    const relativeKey = first.replace(/^\/+|\/+$/g, '');
    const match = matchSection(builtinSections, relativeKey);
    if (!match) {
      throw usageError(
        `not a rule key: ${first} (expected one of: ${builtinSections.map((s) => s.pattern).join(', ')})`,
      );
    }
    return { target: { section: match.section, name: match.name, relativeKey }, rest: positionals.slice(1) };
  }
  if (first === 'defaults')
    return { target: make(sectionOfKind('defaults'), ''), rest: positionals.slice(1) };
  if (first === 'resource') {
    if (second === undefined) throw usageError('missing resource name: resource <name>');
    return { target: make(sectionOfKind('resource'), second), rest: positionals.slice(2) };
  }
  if (second === undefined) {
    throw usageError(`missing kind after service ${first} (one of: ${SERVICE_KINDS.join(', ')})`);
  }
  if (!(SERVICE_KINDS as readonly string[]).includes(second)) {
    throw usageError(
      `unknown kind ${second} for service ${first} (one of: ${SERVICE_KINDS.join(', ')}; ` +
        'resources: resource <name>; fleet defaults: defaults)',
    );
  }
  return { target: make(sectionOfKind(second), first), rest: positionals.slice(2) };
}

function make(section: RuleSection, name: string): RuleTarget {
  const relativeKey = sectionKey(section, name);
  // A name with a slash (or an empty one) would point at another key than the one asked for.
  if (matchSection([section], relativeKey)?.name !== name) {
    throw usageError(
      `invalid name ${JSON.stringify(name)} for ${section.kind}: must be non-empty, without /`,
    );
  }
  return { section, name, relativeKey };
}

/** The full KV key of a target under a prefix. */
export function fullKey(prefix: string, target: RuleTarget): string {
  return `${prefix}/${target.relativeKey}`;
}
