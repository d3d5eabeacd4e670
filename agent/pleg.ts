// The pod lifecycle event generator: relists sandboxes and containers through CRI every period,
// diffs the snapshot with the previous one and reports, per pod UID, what changed (a container
// started, died, was removed; a sandbox changed state). A failed relist keeps the previous
// snapshot (containerd restarting is not "everything died") and is logged once per streak.

import type { Logger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import type { ContainerState, CriRuntime, ListedState, PodSandboxState } from './cri/types.ts';
import { LABEL_POD_UID } from './pod/labels.ts';

export type PlegEventType = 'ContainerStarted' | 'ContainerDied' | 'ContainerRemoved' | 'ContainerChanged' | 'SandboxChanged';

export interface PlegEvent {
  readonly podUid: string;
  readonly type: PlegEventType;
  /** Container or sandbox id. */
  readonly id: string;
  /** The new state; undefined when removed. */
  readonly state?: ContainerState | PodSandboxState;
}

export interface RuntimeSnapshot {
  /** podUid -> id -> state, for sandboxes and containers. */
  readonly sandboxes: ReadonlyMap<string, ReadonlyMap<string, PodSandboxState>>;
  readonly containers: ReadonlyMap<string, ReadonlyMap<string, ContainerState>>;
  /** When the list calls were sent (epoch ms): the snapshot shows nothing older than this. */
  readonly listedAtMs?: number;
}

export const EMPTY_SNAPSHOT: RuntimeSnapshot = { sandboxes: new Map(), containers: new Map() };

/** Items by their pod UID label; `label` is that label's value. */
function group<S extends string>(items: readonly ListedState<S>[]): Map<string, Map<string, S>> {
  const out = new Map<string, Map<string, S>>();
  for (const item of items) {
    const uid = item.label;
    if (uid === undefined) continue; // not a pod's (made by hand with crictl, say)
    let m = out.get(uid);
    if (m === undefined) out.set(uid, (m = new Map()));
    m.set(item.id, item.state);
  }
  return out;
}

function containerEvent(before: ContainerState | undefined, after: ContainerState | undefined): PlegEventType | undefined {
  if (before === after) return undefined;
  if (after === undefined) return 'ContainerRemoved';
  if (after === 'running') return 'ContainerStarted';
  if (after === 'exited') return 'ContainerDied';
  return 'ContainerChanged';
}

/** The events that turn `prev` into `next` (pure). */
export function diffSnapshots(prev: RuntimeSnapshot, next: RuntimeSnapshot): PlegEvent[] {
  const events: PlegEvent[] = [];
  const uids = new Set([...prev.containers.keys(), ...next.containers.keys(), ...prev.sandboxes.keys(), ...next.sandboxes.keys()]);
  for (const podUid of uids) {
    const pc = prev.containers.get(podUid) ?? new Map<string, ContainerState>();
    const nc = next.containers.get(podUid) ?? new Map<string, ContainerState>();
    for (const id of new Set([...pc.keys(), ...nc.keys()])) {
      const type = containerEvent(pc.get(id), nc.get(id));
      const state = nc.get(id);
      if (type !== undefined) events.push({ podUid, type, id, ...(state !== undefined ? { state } : {}) });
    }
    const ps = prev.sandboxes.get(podUid) ?? new Map<string, PodSandboxState>();
    const ns = next.sandboxes.get(podUid) ?? new Map<string, PodSandboxState>();
    for (const id of new Set([...ps.keys(), ...ns.keys()])) {
      const state = ns.get(id);
      if (ps.get(id) !== state) events.push({ podUid, type: 'SandboxChanged', id, ...(state !== undefined ? { state } : {}) });
    }
  }
  return events;
}

export interface PlegOptions {
  readonly cri: Pick<CriRuntime, 'listPodSandboxStates' | 'listContainerStates'>;
  readonly log: Logger;
  readonly relistPeriodMs: number;
  /** Called after each successful relist with its events (possibly none) and the new snapshot. */
  readonly onRelist: (events: readonly PlegEvent[], snapshot: RuntimeSnapshot, durationMs: number) => void;
}

export class Pleg {
  readonly #o: PlegOptions;
  #snapshot: RuntimeSnapshot = EMPTY_SNAPSHOT;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stopped = false;
  #failures = 0;
  #lastSuccessMs = 0;
  #inFlight: Promise<void> | undefined;

  constructor(opts: PlegOptions) {
    this.#o = opts;
  }

  get snapshot(): RuntimeSnapshot {
    return this.#snapshot;
  }

  /** When the last relist succeeded (epoch ms, 0 before the first). */
  get lastSuccessMs(): number {
    return this.#lastSuccessMs;
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#inFlight;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.relist().finally(() => this.#schedule(this.#o.relistPeriodMs));
    }, ms);
    this.#timer.unref?.();
  }

  /** One relist now; concurrent callers share it. */
  relist(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    this.#inFlight = this.#relist().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #relist(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const started = performance.now();
    const listedAtMs = Date.now();
    try {
      const [sandboxes, containers] = await Promise.all([this.#o.cri.listPodSandboxStates(LABEL_POD_UID), this.#o.cri.listContainerStates(LABEL_POD_UID)]);
      const next: RuntimeSnapshot = { sandboxes: group(sandboxes), containers: group(containers), listedAtMs };
      const events = diffSnapshots(this.#snapshot, next);
      this.#snapshot = next;
      this.#lastSuccessMs = Date.now();
      if (this.#failures > 0) this.#o.log.info({ failures: this.#failures }, 'relist works again');
      this.#failures = 0;
      this.#o.onRelist(events, next, performance.now() - started);
    } catch (err) {
      this.#failures++;
      // Logged once per streak of failures (then every 60th), not every second.
      if (this.#failures === 1 || this.#failures % 60 === 0) this.#o.log.warn({ failures: this.#failures, err: errorMessage(err) }, 'relist failed; keeping the previous snapshot');
    } finally {
      this.#running = false;
    }
  }
}
