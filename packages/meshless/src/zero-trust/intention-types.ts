// The intention shapes, as @meshless/consul parses them from Consul.
export type {
  HeaderPermission,
  HttpPermission,
  Intention,
  IntentionAction,
  IntentionPermission,
} from '@meshless/consul';
