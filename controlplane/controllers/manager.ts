// Wiring of the scheduler and controllers: one API client and one shared informer factory (each
// resource is watched once), then every enabled part, started together. `moor server` calls
// startControlPlane after its API server listens; they talk to it over HTTPS like any client would,
// on a worker thread of their own when the server runs from the moor CLI (worker.ts), else on the
// caller's thread. stop() ends loops, queues and watches, in that order.

import type { Logger } from 'pino';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ApiClient } from '../client/client.ts';
import { EventRecorder } from '../client/events.ts';
import { InformerFactory } from '../client/informer.ts';
import type { ClientConfig } from '../client/kubeconfig.ts';
import type { WorkQueue } from '../client/work-queue.ts';
import { Scheduler, DEFAULT_SCHEDULER_NAME } from '../scheduler/scheduler.ts';
import { DEFAULT_CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from './config.ts';
import { DeploymentController, DEPLOYMENT_CONTROLLER } from './deployment.ts';
import { EndpointsController } from './endpoints.ts';
import { GarbageCollector } from './garbage-collector.ts';
import { NodeIpamController } from './node-ipam.ts';
import { NodeLifecycleController } from './node-lifecycle.ts';
import { PodGcController } from './pod-gc.ts';
import { ReplicaSetController, RS_CONTROLLER } from './replicaset.ts';

export interface ControlPlane {
  /** Where the parts run: this thread, a worker thread, or nowhere (all disabled). */
  readonly thread: 'main' | 'worker' | 'off';
  /** The parts, when they run on this thread. */
  readonly client?: ApiClient;
  readonly informers?: InformerFactory;
  readonly scheduler?: Scheduler;
  readonly replicaSets?: ReplicaSetController;
  readonly deployments?: DeploymentController;
  readonly endpoints?: EndpointsController;
  readonly nodeLifecycle?: NodeLifecycleController;
  readonly nodeIpam?: NodeIpamController;
  readonly garbageCollector?: GarbageCollector;
  readonly podGc?: PodGcController;
  /** Resolves when every informer listed once. */
  synced(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartControlPlaneOptions {
  /** Where the API server is and how to authenticate (the admin token inside `moor server`). */
  readonly clientConfig: ClientConfig;
  readonly log: Logger;
  readonly config?: ControlPlaneConfig;
  /** Deterministic tie-breaking for tests. */
  readonly random?: () => number;
}

export function startControlPlane(opts: StartControlPlaneOptions): ControlPlane {
  const config = opts.config ?? DEFAULT_CONTROL_PLANE_CONFIG;
  if (!config.scheduler && config.controllers.length === 0) {
    return { thread: 'off', synced: async () => undefined, stop: async () => undefined };
  }
  const entry = moorCliEntry();
  if (config.thread === 'worker' && entry !== undefined && opts.random === undefined) {
    const worker = startControlPlaneWorker({ entry, clientConfig: opts.clientConfig, config, log: opts.log.child({ component: 'controlplane' }) });
    return { thread: 'worker', synced: async () => undefined, stop: () => worker.stop() };
  }
  const log = opts.log.child({ component: 'controlplane' });
  const client = new ApiClient(opts.clientConfig, { log: log.child({ component: 'client' }), userAgent: 'moor-controlplane', maxSockets: 64 });
  const informers = new InformerFactory({ client, log, resyncPeriodMs: config.resyncPeriodMs });
  const recorders: EventRecorder[] = [];
  const recorder = (component: string): EventRecorder => {
    const r = new EventRecorder({ client, component, log });
    recorders.push(r);
    return r;
  };
  const on = new Set(config.controllers);
  const queues: WorkQueue[] = [];
  const parts: { -readonly [K in keyof ControlPlane]?: ControlPlane[K] } = {};
  if (config.scheduler) {
    parts.scheduler = new Scheduler({ client, informers, events: recorder(DEFAULT_SCHEDULER_NAME), log, percentageOfNodesToScore: config.percentageOfNodesToScore, random: opts.random });
  }
  if (on.has('replicaset')) {
    parts.replicaSets = new ReplicaSetController({ client, informers, events: recorder(RS_CONTROLLER), log });
    queues.push(parts.replicaSets.queue);
  }
  if (on.has('deployment')) {
    parts.deployments = new DeploymentController({ client, informers, events: recorder(DEPLOYMENT_CONTROLLER), log });
    queues.push(parts.deployments.queue);
  }
  if (on.has('endpoints')) {
    parts.endpoints = new EndpointsController({ client, informers, log });
    queues.push(parts.endpoints.queue);
  }
  if (on.has('nodeipam')) {
    parts.nodeIpam = new NodeIpamController({ client, informers, events: recorder('node-ipam-controller'), log, clusterCidr: config.clusterCidr, nodeCidrMaskSize: config.nodeCidrMaskSize });
    queues.push(parts.nodeIpam.queue);
  }
  if (on.has('nodelifecycle')) {
    parts.nodeLifecycle = new NodeLifecycleController({
      client, informers, events: recorder('node-controller'), log, gracePeriodMs: config.nodeMonitorGracePeriodMs,
      monitorPeriodMs: config.nodeMonitorPeriodMs, startupGracePeriodMs: config.nodeStartupGracePeriodMs, evictionEnabled: config.podEviction,
    });
  }
  if (on.has('garbagecollector')) {
    parts.garbageCollector = new GarbageCollector({ client, informers, log });
    queues.push(parts.garbageCollector.queue);
  }
  if (on.has('podgc')) parts.podGc = new PodGcController({ client, informers, log, terminatedPodThreshold: config.terminatedPodGcThreshold });

  informers.start();
  parts.scheduler?.start();
  parts.nodeLifecycle?.start();
  parts.podGc?.start();
  log.info({ scheduler: config.scheduler, controllers: [...on] }, 'scheduler and controllers started');

  let stopped = false;
  return {
    ...parts,
    thread: 'main',
    client,
    informers,
    synced: () => informers.waitForSync(),
    async stop() {
      if (stopped) return;
      stopped = true;
      // Informers stop together with the loops: a loop still waiting for its first sync is released.
      await Promise.all([parts.scheduler?.stop(), parts.nodeLifecycle?.stop(), parts.podGc?.stop(), ...queues.map((q) => q.stop()), informers.stop()]);
      await Promise.all(recorders.map((r) => r.stop()));
      client.close();
      log.info('scheduler and controllers stopped');
    },
  };
}

// ---- the worker thread (parent side; worker.ts is the other) ----

export const WORKER_SUBCOMMAND = 'controlplane-worker';

export interface WorkerInput {
  readonly clientConfig: ClientConfig;
  readonly config: ControlPlaneConfig;
  readonly logLevel: string;
}

/** The running entry script, if it is the moor CLI (source or bundle): what a worker can run again. */
export function moorCliEntry(argv: readonly string[] = process.argv): string | undefined {
  const entry = argv[1];
  return entry !== undefined && /(^|\/)(cli\/moor\.ts|moor\.mjs)$/.test(entry) ? entry : undefined;
}

export interface WorkerHandle {
  stop(): Promise<void>;
}

/** The parent side: start the worker, restart it if it dies, stop it cleanly. */
export function startControlPlaneWorker(opts: { entry: string; clientConfig: ClientConfig; config: ControlPlaneConfig; log: Logger }): WorkerHandle {
  const { log } = opts;
  const input: WorkerInput = { clientConfig: opts.clientConfig, config: opts.config, logLevel: log.level };
  let worker: Worker | undefined;
  let stopping = false;
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  const spawn = (): void => {
    const w = opts.entry.endsWith('.ts')
      // From source: the worker registers the TypeScript loader itself (preloads do not reach workers).
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(opts.entry).href)}); });`,
        { eval: true, argv: [WORKER_SUBCOMMAND], workerData: input, execArgv: [] })
      : new Worker(opts.entry, { argv: [WORKER_SUBCOMMAND], workerData: input, execArgv: process.execArgv });
    worker = w;
    w.on('message', (m: unknown) => {
      if (m === 'started') log.info({ threadId: w.threadId }, 'scheduler and controllers thread started');
    });
    w.on('error', (err) => log.error({ err: err.message, stack: err.stack }, 'scheduler and controllers thread failed'));
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      if (stopping) return;
      const delayMs = Math.min(30_000, 500 * 2 ** restarts++);
      log.error({ code, delayMs }, 'scheduler and controllers thread exited, restarting');
      restartTimer = setTimeout(spawn, delayMs);
      restartTimer.unref();
    });
  };
  spawn();
  return {
    async stop() {
      stopping = true;
      if (restartTimer !== undefined) clearTimeout(restartTimer);
      const w = worker;
      if (w === undefined) return;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.postMessage('stop');
      const timer = setTimeout(() => { void w.terminate(); }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
