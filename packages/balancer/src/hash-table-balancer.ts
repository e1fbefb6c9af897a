import type { Endpoint, Picker } from '@meshless/core';
import { hashBuildHost } from './hash-build-host.ts';
import type { BuildJob, BuildReply } from './hash-build-protocol.ts';
import { departedIds } from './sorted-diff.ts';
import { type BackgroundBuild, LeafBalancer } from './stateful-balancer.ts';

type Kind = BuildJob['kind'];
type ReplyOf<K extends Kind> = Extract<BuildReply, { kind: K }>;

/**
 * Base of the two hash-table balancers (ring-hash, Maglev): hands a large table's build to the
 * process's background thread, holding it (one user of hash-build-host) until dispose.
 */
export abstract class HashTableBalancer extends LeafBalancer {
  private releaseBuilder: (() => void) | undefined;

  /**
   * `job` built in the background while the table over `old` serves without the endpoints that
   * left; undefined (build in place) when the thread is unavailable or none of `old` stays
   * (nothing to serve meanwhile). Both lists are sorted by id.
   */
  protected inBackground<K extends Kind>(
    old: readonly Endpoint[],
    next: readonly Endpoint[],
    job: Extract<BuildJob, { kind: K }>,
    toPicker: (reply: ReplyOf<K>) => Picker,
  ): BackgroundBuild | undefined {
    if (!hashBuildHost.available) return undefined;
    const departed = departedIds(old, next);
    if (departed.size === old.length) return undefined;
    this.releaseBuilder ??= hashBuildHost.acquire();
    const pending = hashBuildHost.run(job);
    return {
      result: pending.result.then((reply) => {
        if (reply.kind !== job.kind)
          throw new Error(`background build answered ${reply.kind}, not ${job.kind}`);
        return toPicker(reply as ReplyOf<K>);
      }),
      cancel: pending.cancel,
      departed,
    };
  }

  override dispose(): void {
    super.dispose();
    this.releaseBuilder?.();
    this.releaseBuilder = undefined;
  }
}
