// Claiming dependents for a controller, as upstream's ControllerRefManager does: keep the owned ones
// that match the selector, release owned ones that stopped matching, adopt matching orphans. Orphans
// are adopted only after one live read shows the owner is not going away (upstream's recheck), and
// not within the ReleaseTracker's delay after they lost their owner. Used by the ReplicaSet
// controller (pods) and the Deployment controller (ReplicaSets); the API calls are passed in.

import type { KubeObject } from '../client/types.ts';
import { controllerRefOf, type ReleaseTracker } from './util.ts';

export interface ClaimOptions<T extends KubeObject> {
  readonly owner: KubeObject;
  readonly candidates: Iterable<T>;
  /** Does the candidate match the owner's selector. */
  readonly matches: (candidate: T) => boolean;
  /** Extra condition for adopting an orphan (e.g. the pod is active). */
  readonly adoptable?: (candidate: T) => boolean;
  readonly released: ReleaseTracker;
  /** One live read of the owner: true when it is gone, replaced or being deleted. */
  readonly isOwnerGoing: () => Promise<boolean>;
  /** Remove the owner's controller reference (uid) from the candidate. */
  readonly release: (candidate: T, ownerUid: string) => Promise<unknown>;
  /** Set the owner as the candidate's controller; undefined when the candidate is gone. */
  readonly adopt: (candidate: T) => Promise<T | undefined>;
}

export async function claimDependents<T extends KubeObject>(o: ClaimOptions<T>): Promise<{ owned: T[]; adoptLaterMs?: number }> {
  const owned: T[] = [];
  let ownerGoing = o.owner.metadata.deletionTimestamp !== undefined;
  let checkedLive = false;
  let adoptLaterMs: number | undefined;
  for (const candidate of o.candidates) {
    const ref = controllerRefOf(candidate);
    const matches = o.matches(candidate);
    if (ref !== undefined) {
      if (ref.uid !== o.owner.metadata.uid) continue;
      if (matches) {
        owned.push(candidate);
        continue;
      }
      if (ownerGoing) continue;
      o.released.noteOwnRelease(String(candidate.metadata.uid));
      await o.release(candidate, ref.uid);
      continue;
    }
    if (!matches || ownerGoing || candidate.metadata.deletionTimestamp !== undefined) continue;
    if (o.adoptable !== undefined && !o.adoptable(candidate)) continue;
    const wait = o.released.adoptionWaitMs(String(candidate.metadata.uid));
    if (wait !== undefined) {
      adoptLaterMs = Math.min(adoptLaterMs ?? Infinity, wait);
      continue;
    }
    if (!checkedLive) {
      checkedLive = true;
      ownerGoing = await o.isOwnerGoing();
      if (ownerGoing) continue;
    }
    const adopted = await o.adopt(candidate);
    if (adopted !== undefined) owned.push(adopted);
  }
  return { owned, adoptLaterMs };
}
