// Every chaos scenario, in the order `npm run chaos` runs them.
import type { ChaosScenario } from '../lib/scenario.ts';
import { agentOutage } from './agent-outage.ts';
import { backendHang } from './backend-hang.ts';
import { badRule } from './bad-rule.ts';
import { clusterAllDown } from './cluster-all-down.ts';
import { clusterClientRestart } from './cluster-client-restart.ts';
import { clusterLeaderKill } from './cluster-leader-kill.ts';
import { hungAgentScenario } from './hung-agent.ts';
import { instanceKill } from './instance-kill.ts';
import { longOutage } from './long-outage.ts';
import { slowBackend } from './slow-backend.ts';

export const scenarios: readonly ChaosScenario[] = [
  instanceKill,
  hungAgentScenario,
  agentOutage,
  badRule,
  longOutage,
  clusterLeaderKill,
  clusterAllDown,
  clusterClientRestart,
  backendHang,
  slowBackend,
];
