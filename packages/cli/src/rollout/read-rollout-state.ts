// Reading one service's rollout state from KV, for `meshless status <service>`. The parser is
// readState (rollout-state.ts), shared with the controller, `meshless top` and the dashboard.

import type { ConsulSession } from '../session.ts';
import { type RolloutState, readState, stateKey } from './rollout-state.ts';

/** A service's state key, read: the state, or why it is not one (the key is untrusted). */
export type ServiceRollout =
  | { readonly key: string; readonly state: RolloutState; readonly error?: undefined }
  | { readonly key: string; readonly error: string; readonly state?: undefined };

/** `<prefix>/_rollout/<service>`; undefined when there is none. Never rejects. */
export async function readServiceRollout(
  session: Pick<ConsulSession, 'kv'>,
  prefix: string,
  service: string,
): Promise<ServiceRollout | undefined> {
  const key = stateKey(prefix, service);
  let value: Buffer;
  try {
    const entry = await session.kv.get(key);
    if (!entry) return undefined;
    value = entry.value;
  } catch (error) {
    // A token that may read the rules but not _rollout/ still gets the rest of the status.
    return { key, error: `cannot read ${key}: ${(error as Error)?.message ?? String(error)}` };
  }
  // What a controller writes as it takes the lock, before its first save.
  if (value.toString('utf8').trim() === '{}')
    return { key, error: 'no state yet (a controller is starting)' };
  const read = readState(value);
  if (read.error !== undefined) return { key, error: read.error };
  if (read.state.service !== service) {
    return { key, error: `service: names ${JSON.stringify(read.state.service)}, not ${service}` };
  }
  return { key, state: read.state };
}
