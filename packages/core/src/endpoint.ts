/** One healthy instance of a service, as discovery sees it. Immutable. */
export interface Endpoint {
  /** Unique and stable across membership changes (Consul's service ID, qualified by node). */
  readonly id: string;
  readonly service: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  /** Relative weight, >= 1 (Consul's `Weights.Passing`, or meta `weight`). */
  readonly weight: number;
  readonly zone?: string;
  readonly region?: string;
  readonly datacenter?: string;
  /**
   * The instance registered Connect-native: call it over mutual TLS when this instance has an
   * identity. Absent (never `false`) otherwise, so plain endpoints carry no extra field.
   */
  readonly mtls?: boolean;
}

/** A source of endpoints for one service that pushes changes. */
export interface Resolver {
  /** The endpoints known now (may be empty before the first answer). */
  current(): readonly Endpoint[];
  /** Fires with the full new list whenever membership or metadata really changed; never synchronously. */
  onDidChange(listener: (endpoints: readonly Endpoint[]) => void): import('./disposable.ts').Disposable;
  /** The first answer's endpoints (or a cached or empty fallback when none comes in time); never rejects. */
  ready(): Promise<readonly Endpoint[]>;
  /** What it serves now, for status: at least the datacenter (undefined: the agent's own). */
  stats?(): ResolverStatus;
}

/** The part of a resolver's stats that the client reports. */
export interface ResolverStatus {
  readonly datacenter: string | undefined;
}
