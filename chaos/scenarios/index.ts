// Every chaos scenario, in the order `npm run chaos` runs them.
import type { ChaosScenario } from '../lib/scenario.ts';
import { agentOutage } from './agent-outage.ts';
import { badRule } from './bad-rule.ts';
import { hungAgentScenario } from './hung-agent.ts';
import { instanceKill } from './instance-kill.ts';
import { longOutage } from './long-outage.ts';

export const scenarios: readonly ChaosScenario[] = [
  instanceKill,
  hungAgentScenario,
  agentOutage,
  longOutage,
  badRule,
];
