// The intention shapes of @meshless/consul (connect-intentions-parse.ts), declared here until that
// package exports them; then this file becomes `export type { ... } from '@meshless/consul'`.
// Structurally identical, so either side's values fit the other's types.

export type IntentionAction = 'allow' | 'deny';

export interface HeaderPermission {
  name: string;
  present?: boolean;
  exact?: string;
  prefix?: string;
  suffix?: string;
  regex?: string;
  invert?: boolean;
}

export interface HttpPermission {
  pathExact?: string;
  pathPrefix?: string;
  pathRegex?: string;
  methods?: readonly string[];
  headers?: readonly HeaderPermission[];
}

export interface IntentionPermission {
  action: IntentionAction;
  http?: HttpPermission;
}

export interface Intention {
  readonly id: string;
  /** A service name, or '*' for any. */
  readonly source: string;
  /** undefined when permissions are given (L7). */
  readonly action: IntentionAction | undefined;
  readonly permissions: readonly IntentionPermission[] | undefined;
  readonly precedence: number;
  readonly description: string;
}
