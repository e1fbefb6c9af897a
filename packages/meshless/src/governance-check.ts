import type { ConsulRuleSource, RulesHold, ServiceRegistration } from '@meshless/consul';
import {
  type Disposable,
  DisposableStore,
  type Event,
  matchSection,
  type RuleSection,
  type RuleStore,
} from '@meshless/core';
import type { Governor } from './governance/index.ts';
import {
  formatGovernanceReport,
  type GovernanceUses,
  governanceCheckId,
  keyAffects,
} from './governance-report.ts';
import type { MeshOptions } from './mesh-options.ts';

/** What the "meshless governance" check reads: the instance's rules, what it calls and governs. */
export interface GovernanceCheckDeps {
  readonly rules: RuleStore;
  readonly registration: ServiceRegistration;
  /** This instance's service name (its inbound document affects it). */
  readonly self: string | undefined;
  /** The application's own sections: their documents affect it too. */
  readonly sections: readonly RuleSection<unknown>[];
  /** The services this instance calls (one client each). */
  readonly calls: () => Iterable<string>;
  /** The resources its decorated methods follow. */
  readonly resources: () => readonly string[];
  readonly hold: () => RulesHold | undefined;
  readonly rejectionStatus?: 'passing' | 'warning' | undefined;
  /** Report again on each (what can change the report). */
  readonly changes?: readonly Event<unknown>[];
}

/** Sets this instance's "meshless governance" check from the keys that affect it. Dispose to stop reporting. */
export class GovernanceCheck implements Disposable {
  private readonly deps: GovernanceCheckDeps;
  private readonly subscriptions = new DisposableStore();

  constructor(deps: GovernanceCheckDeps) {
    this.deps = deps;
    const report = () => void this.report();
    for (const change of deps.changes ?? []) this.subscriptions.add(change(report));
  }

  /**
   * The keys that affect this instance, the only ones its governance check reports: its own
   * inbound document, the documents of the services it calls, the resources it governs, the
   * fleet defaults and the application's own sections. Any other key is none of its business
   * (a typo in one service's rule must not show on every instance of every service).
   */
  relevance(): { relevant: (key: string) => boolean; uses: GovernanceUses } {
    const { rules, self, sections: own } = this.deps;
    const prefix = `${rules.prefix}/`;
    const uses: GovernanceUses = {
      calls: [...this.deps.calls()].sort(),
      resources: [...new Set(this.deps.resources())].sort(),
    };
    const relevant = (key: string): boolean => {
      if (!key.startsWith(prefix)) return false;
      const rel = key.slice(prefix.length);
      return keyAffects(rel, self, uses) || (own.length > 0 && matchSection(own, rel) !== undefined);
    };
    return { relevant, uses };
  }

  async report(): Promise<void> {
    const { registration, rules, rejectionStatus } = this.deps;
    const id = registration.status().id;
    if (!id) return;
    const { relevant, uses } = this.relevance();
    const held = this.deps.hold();
    const report = formatGovernanceReport(rules.status(), {
      relevant,
      uses,
      ...(rejectionStatus ? { rejectionStatus } : {}),
      ...(held && held.reason !== 'checking' ? { held: held.message } : {}),
    });
    await registration.updateCheck(governanceCheckId(id), report.status, report.output);
  }

  dispose(): void {
    this.subscriptions.dispose();
  }
}

/** What a registered mesh's check follows. */
export interface MeshGovernanceParts {
  readonly options: Pick<MeshOptions, 'service' | 'sections' | 'governance'>;
  readonly rules: RuleStore;
  readonly registration: ServiceRegistration;
  readonly source: Pick<ConsulRuleSource, 'hold' | 'onDidChangeHold'>;
  readonly governor: Pick<Governor, 'followed' | 'onDidFollow'>;
  /** The services the mesh calls so far. */
  readonly calls: () => Iterable<string>;
}

/**
 * The mesh's check: its own inbound document, the services it calls, the resources it governs,
 * the application's sections; reported again when rules apply, a hold is set or lifted, or a
 * decorated method follows a new resource.
 */
export function meshGovernanceCheck(p: MeshGovernanceParts): GovernanceCheck {
  const { options, rules, source, governor } = p;
  return new GovernanceCheck({
    rules,
    registration: p.registration,
    self: options.service?.name,
    sections: options.sections ?? [],
    calls: p.calls,
    resources: () => governor.followed().resources,
    hold: () => source.hold(),
    rejectionStatus: options.governance?.rejectionStatus,
    changes: [rules.onDidApplySnapshot, source.onDidChangeHold, governor.onDidFollow],
  });
}
