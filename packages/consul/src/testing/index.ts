export {
  ConsulDevAgent,
  consulAvailable,
  type DevAgentOptions,
  type DevAgentPorts,
  freePort,
  freePorts,
} from './dev-agent.ts';
