// Probe workers, one per (pod, container, kind), with the kubelet's semantics: a new container
// starts from the kind's initial result (readiness: failure, liveness: success, startup: unknown);
// nothing is probed before initialDelaySeconds after the container started; startup gates the
// other two and stops once it succeeded; a result is published only after successThreshold or
// failureThreshold equal results in a row; after a liveness or startup failure the worker holds
// until the container is replaced. Clock and timers are injected.

import type { Logger } from '../../common/log.ts';
import type { ProbeResult } from '../pod/plan.ts';
import type { Probe } from '../pod/types.ts';
import type { ProbeOutcome } from './runners.ts';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

export const INITIAL_RESULT: Readonly<Record<ProbeKind, ProbeResult>> = { liveness: 'success', readiness: 'failure', startup: 'unknown' };

/** The container a worker probes, as last observed. */
export interface ProbeTarget {
  readonly containerId: string;
  readonly running: boolean;
  readonly startedAtMs: number;
  readonly podIp: string;
  /** The startup probe passed (or there is none). */
  readonly started: boolean;
}

/** Results by container id for one kind. */
export class ProbeResults {
  readonly #map = new Map<string, ProbeResult>();

  get(containerId: string): ProbeResult | undefined {
    return this.#map.get(containerId);
  }

  /** Returns whether the value changed. */
  set(containerId: string, result: ProbeResult): boolean {
    if (this.#map.get(containerId) === result) return false;
    this.#map.set(containerId, result);
    return true;
  }

  delete(containerId: string): void {
    this.#map.delete(containerId);
  }

  view(): ReadonlyMap<string, ProbeResult> {
    return this.#map;
  }
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const REAL_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ProbeWorkerOptions {
  readonly kind: ProbeKind;
  readonly probe: Probe;
  readonly podUid: string;
  readonly containerName: string;
  readonly getTarget: () => ProbeTarget | undefined;
  readonly run: (target: ProbeTarget) => Promise<ProbeOutcome>;
  readonly results: ProbeResults;
  /** Called when a published result changes. */
  readonly onChange: (e: { kind: ProbeKind; podUid: string; containerName: string; containerId: string; result: ProbeResult; message: string }) => void;
  readonly log: Logger;
  readonly now?: () => number;
  readonly timers?: Timers;
  /** A result to start from instead of the kind's initial one, for a container adopted after a restart. */
  readonly seed?: (containerId: string) => ProbeResult | undefined;
}

export class ProbeWorker {
  readonly #o: ProbeWorkerOptions;
  readonly #now: () => number;
  readonly #timers: Timers;
  #containerId = '';
  #lastResult: ProbeResult = 'unknown';
  #resultRun = 0;
  #onHold = false;
  #timer: unknown;
  #stopped = false;
  #inFlight: Promise<void> | undefined;

  constructor(opts: ProbeWorkerOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#timers = opts.timers ?? REAL_TIMERS;
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    await this.#inFlight;
  }

  /** Probe now (also used by tests with fake timers). */
  async tick(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    this.#inFlight = this.#probeOnce().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#timers.setTimeout(() => {
      const started = this.#now();
      void this.tick().finally(() => {
        const elapsed = this.#now() - started;
        this.#schedule(Math.max(0, this.#o.probe.periodSeconds * 1000 - elapsed));
      });
    }, ms);
  }

  #publish(containerId: string, result: ProbeResult, message: string): void {
    if (this.#o.results.set(containerId, result)) {
      this.#o.onChange({ kind: this.#o.kind, podUid: this.#o.podUid, containerName: this.#o.containerName, containerId, result, message });
    }
  }

  async #probeOnce(): Promise<void> {
    const target = this.#o.getTarget();
    if (target === undefined || target.containerId === '') return;
    if (target.containerId !== this.#containerId) {
      // A new container: start over from the initial (or adopted) result.
      if (this.#containerId !== '') this.#o.results.delete(this.#containerId);
      this.#containerId = target.containerId;
      this.#onHold = false;
      this.#resultRun = 0;
      const initial = this.#o.seed?.(target.containerId) ?? INITIAL_RESULT[this.#o.kind];
      this.#lastResult = initial;
      this.#publish(target.containerId, initial, 'container started');
    }
    if (!target.running) {
      this.#publish(target.containerId, 'failure', 'container not running');
      return;
    }
    if (this.#onHold) return;
    if (this.#now() - target.startedAtMs < this.#o.probe.initialDelaySeconds * 1000) return;
    if (this.#o.kind === 'startup' && this.#o.results.get(target.containerId) === 'success') return;
    if (this.#o.kind !== 'startup' && !target.started) return;

    const outcome = await this.#o.run(target);
    if (this.#stopped || outcome.result === 'unknown') return;
    const result: ProbeResult = outcome.result;
    if (this.#lastResult === result) this.#resultRun++;
    else {
      this.#lastResult = result;
      this.#resultRun = 1;
    }
    if ((result === 'failure' && this.#resultRun < this.#o.probe.failureThreshold) || (result === 'success' && this.#resultRun < this.#o.probe.successThreshold)) return;
    if (result === 'failure') this.#o.log.info({ kind: this.#o.kind, container: this.#o.containerName, containerId: target.containerId, message: outcome.message }, 'probe failed');
    this.#publish(target.containerId, result, outcome.message);
    if (result === 'failure' && this.#o.kind !== 'readiness') {
      // The container will be restarted; nothing to probe until it is.
      this.#onHold = true;
      this.#resultRun = 0;
    }
  }
}
