import type { RulesHold, ServiceRegistration } from '@meshless/consul';
import { matchSection, type RuleSection, type RuleStore } from '@meshless/core';
import {
  formatGovernanceReport,
  type GovernanceUses,
  governanceCheckId,
  keyAffects,
} from './governance-report.ts';

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
}

/** Sets this instance's "meshless governance" check from the keys that affect it. */
export class GovernanceCheck {
  constructor(private readonly deps: GovernanceCheckDeps) {}

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
}
