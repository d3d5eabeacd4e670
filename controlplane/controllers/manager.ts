// Wiring of the scheduler and controllers: one API client and one shared informer factory (each
// resource is watched once), then every enabled part, started together. `moor server` calls
// startControlPlane after its API server listens; they talk to it over HTTPS like any client would.
// stop() ends loops, queues and watches, in that order.

import type { Logger } from 'pino';
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
  readonly client: ApiClient;
  readonly informers: InformerFactory;
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
