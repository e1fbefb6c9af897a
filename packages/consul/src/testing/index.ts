export { freePort } from './agent-process.ts';
export { ClusterMember } from './cluster-member.ts';
export { ConsulCluster, type ConsulClusterOptions } from './consul-cluster.ts';
export {
  ConsulDevAgent,
  consulAvailable,
  type DevAgentOptions,
  type DevAgentPorts,
  freePorts,
} from './dev-agent.ts';
