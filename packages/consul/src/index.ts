export { consulPermissionText, missingPermission, requiredPermission } from './acl-permission.ts';
export { BlockingWatch, type BlockingWatchOptions, type WatchStats } from './blocking-watch.ts';
export {
  ConnectIdentity,
  type ConnectIdentityOptions,
  type ConnectMaterial,
} from './connect-identity.ts';
export { type CaRoots, type LeafCertificate, parseLeaf, parseRoots } from './connect-identity-parse.ts';
export {
  ConsulIntentions,
  type ConsulIntentionsOptions,
  defaultFromAuthorize,
  type IntentionSet,
} from './connect-intentions.ts';
export {
  compareIntentions,
  type HeaderPermission,
  type HttpPermission,
  INTENTION_LIMITS,
  type Intention,
  type IntentionAction,
  type IntentionPermission,
  intentionPrecedence,
  parseLegacyIntentions,
  parseServiceIntentionsEntries,
  sameIntentions,
} from './connect-intentions-parse.ts';
export {
  ConsulConnection,
  type ConsulOptions,
  type ConsulRequest,
  type ConsulResponse,
  type ResolvedConsulOptions,
  resolveConsulOptions,
} from './connection.ts';
export { DatacenterWatch, type DiscoveryThread } from './datacenter-watch.ts';
export { cacheFileName, DiskCache, defaultCacheDir } from './disk-cache.ts';
export {
  applyEndpointDelta,
  diffEndpoints,
  reconcileEndpoints,
  reviveEndpoint,
} from './endpoint-delta.ts';
export { HealthWorkerHost } from './health-worker-host.ts';
export { ConsulKv, type ConsulKvOptions, type KvValue } from './kv.ts';
export {
  ConsulRuleSource,
  type ConsulRuleSourceOptions,
  parseKvListing,
  type RulesHold,
} from './kv-rule-source.ts';
export {
  type AgentConnection,
  type CheckStatus,
  defaultServiceAddress,
  defaultServiceId,
  type RegistrationStatus,
  type ReregisterEvent,
  type ServiceDefinition,
  ServiceRegistration,
  type ServiceRegistrationOptions,
} from './registration.ts';
export {
  ConsulResolver,
  type ConsulResolverOptions,
  type DatacenterSelection,
  type DatacenterView,
  type EndpointsOrigin,
  endpointsFromCache,
  type HealthServiceEntry,
  isNoPathToDatacenter,
  makeEndpoint,
  parseHealthServices,
  type ResolverStats,
  type ResolverWatchOptions,
  sameEndpoint,
  sameEndpoints,
  selectDatacenter,
  weightOf,
} from './resolver.ts';
export {
  Discovery,
  type DiscoveryOptions,
  type DiscoveryResolverOptions,
  type SharedResolver,
} from './resolver-registry.ts';
export {
  markerKey,
  STATUS_FOLDER,
  type StatusEntry,
  statusKeyFor,
} from './rule-listing.ts';
export {
  formatStatusEntry,
  parseStatusEntry,
  RuleStatusWriter,
  type RuleStatusWriterOptions,
  type StatusEntryReport,
} from './rule-status-writer.ts';
