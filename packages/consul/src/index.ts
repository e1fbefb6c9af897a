export { BlockingWatch, type BlockingWatchOptions, type WatchStats } from './blocking-watch.ts';
export {
  ConsulConnection,
  type ConsulOptions,
  type ConsulRequest,
  type ConsulResponse,
  type ResolvedConsulOptions,
  resolveConsulOptions,
} from './connection.ts';
export { cacheFileName, DiskCache, defaultCacheDir } from './disk-cache.ts';
export { ConsulKv, type KvValue } from './kv.ts';
export { ConsulRuleSource, type ConsulRuleSourceOptions, parseKvListing } from './kv-rule-source.ts';
