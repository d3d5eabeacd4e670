// Keeps one probe worker per (pod, container, kind) in line with the pods the agent runs, and holds
// the published results the planner (liveness, startup) and the status builder (readiness,
// startup) read. Result changes go to one callback, which decides whether to sync or only report.

import type { Logger } from '../../common/log.ts';
import type { CriRuntime } from '../cri/types.ts';
import { stableJson } from '../pod/labels.ts';
import type { ProbeResult, ProbeView } from '../pod/plan.ts';
import type { Pod } from '../pod/types.ts';
import { runHandler } from './runners.ts';
import { ProbeResults, ProbeWorker, type ProbeKind, type ProbeTarget, type ProbeWorkerOptions, type Timers } from './worker.ts';

export interface ProbeManagerOptions {
  readonly cri: Pick<CriRuntime, 'execSync'>;
  readonly log: Logger;
  /** The container a worker probes, from the agent's latest view of the pod. */
  readonly getTarget: (podUid: string, containerName: string) => ProbeTarget | undefined;
  readonly onChange: ProbeWorkerOptions['onChange'];
  readonly now?: () => number;
  readonly timers?: Timers;
  /** Readiness carried over from before an agent restart, by container id. */
  readonly seedReadiness?: (containerId: string) => ProbeResult | undefined;
}

interface WorkerEntry {
  readonly worker: ProbeWorker;
  readonly specJson: string;
}

export class ProbeManager {
  readonly liveness = new ProbeResults();
  readonly readiness = new ProbeResults();
  readonly startup = new ProbeResults();
  readonly #o: ProbeManagerOptions;
  readonly #workers = new Map<string, WorkerEntry>();

  constructor(opts: ProbeManagerOptions) {
    this.#o = opts;
  }

  results(kind: ProbeKind): ProbeResults {
    return kind === 'liveness' ? this.liveness : kind === 'readiness' ? this.readiness : this.startup;
  }

  view(): ProbeView {
    return { liveness: this.liveness.view(), startup: this.startup.view() };
  }

  /** Start the workers a pod's spec asks for; stop the ones it no longer does. */
  syncPod(pod: Pod): void {
    const uid = pod.metadata.uid;
    const wanted = new Set<string>();
    for (const c of pod.spec.containers) {
      for (const kind of ['startup', 'liveness', 'readiness'] as const) {
        const probe = c[`${kind}Probe`];
        if (probe === undefined) continue;
        const key = `${uid}/${c.name}/${kind}`;
        wanted.add(key);
        const specJson = stableJson({ probe, ports: c.ports });
        const existing = this.#workers.get(key);
        if (existing?.specJson === specJson) continue;
        if (existing) void existing.worker.stop();
        const worker = new ProbeWorker({
          kind,
          probe,
          podUid: uid,
          containerName: c.name,
          getTarget: () => this.#o.getTarget(uid, c.name),
          run: (target) => runHandler(probe, { cri: this.#o.cri, containerId: target.containerId, podIp: target.podIp, container: c, timeoutSeconds: probe.timeoutSeconds }),
          results: this.results(kind),
          onChange: this.#o.onChange,
          log: this.#o.log.child({ podUid: uid }),
          ...(this.#o.now ? { now: this.#o.now } : {}),
          ...(this.#o.timers ? { timers: this.#o.timers } : {}),
          ...(kind === 'readiness' && this.#o.seedReadiness ? { seed: this.#o.seedReadiness } : {}),
        });
        this.#workers.set(key, { worker, specJson });
        worker.start();
      }
    }
    for (const [key, entry] of this.#workers) {
      if (key.startsWith(`${uid}/`) && !wanted.has(key)) {
        this.#workers.delete(key);
        void entry.worker.stop();
      }
    }
  }

  /** Whether the pod has a worker of this kind for the container. */
  hasWorker(podUid: string, containerName: string, kind: ProbeKind): boolean {
    return this.#workers.has(`${podUid}/${containerName}/${kind}`);
  }

  /** Probe a pod's containers now, rather than at their next period. */
  async probeNow(podUid: string): Promise<void> {
    await Promise.all([...this.#workers].filter(([k]) => k.startsWith(`${podUid}/`)).map(([, e]) => e.worker.tick()));
  }

  async removePod(podUid: string, containerIds: readonly string[] = []): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const [key, entry] of this.#workers) {
      if (!key.startsWith(`${podUid}/`)) continue;
      this.#workers.delete(key);
      stops.push(entry.worker.stop());
    }
    await Promise.all(stops);
    for (const id of containerIds) for (const r of [this.liveness, this.readiness, this.startup]) r.delete(id);
  }

  async stop(): Promise<void> {
    const all = [...this.#workers.values()];
    this.#workers.clear();
    await Promise.all(all.map((e) => e.worker.stop()));
  }
}
