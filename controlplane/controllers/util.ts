// Helpers shared by the controllers, pure: controller references, pod readiness and availability,
// condition bookkeeping, timestamps, and expectations (how many creates/deletes a controller is
// still waiting to see through its informer, so it never acts twice on a stale cache).

import type { Condition, KubeObject, OwnerReference, Pod } from '../client/types.ts';

export function nowTimestamp(nowMs: number): string {
  return new Date(Math.floor(nowMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function parseTimestamp(ts: string | null | undefined): number | undefined {
  if (ts === undefined || ts === null || ts === '') return undefined;
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? undefined : ms;
}

export function controllerRefOf(o: KubeObject): OwnerReference | undefined {
  return (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);
}

export function newControllerRef(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: String(owner.metadata.name), uid: String(owner.metadata.uid), controller: true, blockOwnerDeletion: true };
}

/** Not finished and not being deleted: counts toward a controller's replicas. */
export function isPodActive(p: Pod): boolean {
  return p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && p.metadata.deletionTimestamp === undefined;
}

export function getCondition<C extends Condition>(conditions: readonly C[] | undefined, type: string): C | undefined {
  return (conditions ?? []).find((c) => c.type === type);
}

export function isPodReady(p: Pod): boolean {
  return getCondition(p.status?.conditions, 'Ready')?.status === 'True';
}

/** Ready for at least minReadySeconds (by the Ready condition's lastTransitionTime). */
export function isPodAvailable(p: Pod, minReadySeconds: number, nowMs: number): boolean {
  const c = getCondition(p.status?.conditions, 'Ready');
  if (c === undefined || c.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = parseTimestamp(c.lastTransitionTime);
  return since !== undefined && since + minReadySeconds * 1000 <= nowMs;
}

/** Canonical JSON (sorted keys) for change detection. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/**
 * A merge patch turning `from` into `to` at the top level of a status object: changed keys get the
 * new value, vanished ones null. Lists and nested objects are replaced whole.
 */
export function buildStatusMergePatch(from: Record<string, unknown> | undefined, to: Record<string, unknown>): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  const old = from ?? {};
  for (const [k, v] of Object.entries(to)) if (v !== undefined && canonical(old[k]) !== canonical(v)) patch[k] = v;
  for (const k of Object.keys(old)) if (to[k] === undefined && old[k] !== undefined) patch[k] = null;
  return Object.keys(patch).length === 0 ? undefined : patch;
}

/**
 * Expectations per controller key: creates and deletes issued but not yet observed. A key is
 * satisfied when both counts are down to zero or the record is older than `ttlMs` (a lost event must
 * not block the controller forever).
 */
export class Expectations {
  readonly #records = new Map<string, { add: number; del: number; atMs: number; deleting: Set<string> }>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(opts: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = opts.ttlMs ?? 5 * 60_000;
    this.#now = opts.now ?? Date.now;
  }

  satisfied(key: string): boolean {
    const r = this.#records.get(key);
    if (r === undefined) return true;
    if (r.add <= 0 && r.del <= 0) return true;
    return this.#now() - r.atMs > this.#ttlMs;
  }

  expect(key: string, adds: number, deletes: readonly string[]): void {
    this.#records.set(key, { add: adds, del: deletes.length, atMs: this.#now(), deleting: new Set(deletes) });
  }

  creationObserved(key: string): void {
    const r = this.#records.get(key);
    if (r !== undefined) r.add--;
  }

  /** A create that failed will never be observed. */
  creationFailed(key: string): void {
    this.creationObserved(key);
  }

  /** `podKey` was deleted (or is being deleted); counts once per pod. */
  deletionObserved(key: string, podKey: string): void {
    const r = this.#records.get(key);
    if (r !== undefined && r.deleting.delete(podKey)) r.del--;
  }

  forget(key: string): void {
    this.#records.delete(key);
  }
}

/**
 * Objects that someone else just stripped of their controller reference — what the API server does,
 * one dependent at a time, before it removes an owner deleted with propagationPolicy=Orphan. While
 * that is under way the owner still exists and looks short of dependents; a controller that reacted
 * at once would adopt them back or create replacements. Controllers hold off for `delayMs` after such
 * a release. Releases the controller makes itself are announced first and not counted.
 */
export class ReleaseTracker {
  readonly #released = new Map<string, { atMs: number; ownerUid: string }>();
  readonly #own = new Set<string>();
  readonly #now: () => number;
  readonly delayMs: number;

  constructor(opts: { delayMs?: number; now?: () => number } = {}) {
    this.delayMs = opts.delayMs ?? 2000;
    this.#now = opts.now ?? Date.now;
  }

  /** We are about to release `uid` ourselves. */
  noteOwnRelease(uid: string): void {
    this.#own.add(uid);
  }

  /** An update of a dependent: record it if its controller reference vanished. */
  observe(old: KubeObject, cur: KubeObject): void {
    const before = controllerRefOf(old);
    if (before === undefined || controllerRefOf(cur) !== undefined) return;
    const uid = String(cur.metadata.uid);
    if (this.#own.delete(uid)) return;
    this.#released.set(uid, { atMs: this.#now(), ownerUid: before.uid });
  }

  #prune(nowMs: number): void {
    for (const [uid, r] of this.#released) if (nowMs - r.atMs > this.delayMs) this.#released.delete(uid);
  }

  /** Milliseconds to wait before adopting `uid`, or undefined when it may be adopted now. */
  adoptionWaitMs(uid: string): number | undefined {
    const nowMs = this.#now();
    this.#prune(nowMs);
    const r = this.#released.get(uid);
    return r === undefined ? undefined : r.atMs + this.delayMs - nowMs + 10;
  }

  /** Milliseconds to wait before `ownerUid` may replace dependents it just lost, or undefined. */
  ownerWaitMs(ownerUid: string): number | undefined {
    const nowMs = this.#now();
    this.#prune(nowMs);
    let latest: number | undefined;
    for (const r of this.#released.values()) if (r.ownerUid === ownerUid && (latest === undefined || r.atMs > latest)) latest = r.atMs;
    return latest === undefined ? undefined : latest + this.delayMs - nowMs + 10;
  }
}
