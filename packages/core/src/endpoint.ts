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
}

/** A source of endpoints for one service that pushes changes. */
export interface Resolver {
  /** The endpoints known now (may be empty before the first answer). */
  current(): readonly Endpoint[];
  /** Fires with the full new list whenever membership or metadata really changed; never synchronously. */
  onDidChange(listener: (endpoints: readonly Endpoint[]) => void): import('./disposable.ts').Disposable;
}
