// The agent's Prometheus metrics (prom-client), on a registry of its own so that several agents can
// live in one process (tests). Names follow the kubelet's where one exists, under moor_agent_.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../common/process-metrics.ts';

const SYNC_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface AgentMetrics {
  readonly registry: Registry;
  /** One pod sync, by kind: sync (plan and apply), terminate. */
  readonly podSyncDuration: Histogram<'operation'>;
  /** From the agent first seeing a pod to all its containers running. */
  readonly podStartDuration: Histogram;
  readonly relistDuration: Histogram;
  readonly runningPods: Gauge;
  readonly runningContainers: Gauge;
  readonly containerRestarts: Counter;
  readonly syncErrors: Counter<'step'>;
  readonly manifestErrors: Gauge;
  /** CRI calls by RPC name (the kubelet's runtime_operations_total / _errors_total / _duration_seconds). */
  readonly runtimeOperations: Counter<'operation_type'>;
  readonly runtimeOperationErrors: Counter<'operation_type'>;
  readonly runtimeOperationDuration: Histogram<'operation_type'>;
}

export function createAgentMetrics(opts: { processMetrics?: boolean } = {}): AgentMetrics {
  const registry = new Registry();
  if (opts.processMetrics) collectProcessMetrics(registry, 'moor_agent_');
  return {
    registry,
    podSyncDuration: new Histogram({ name: 'moor_agent_pod_worker_duration_seconds', help: 'Duration of one pod sync in seconds.', labelNames: ['operation'], buckets: SYNC_BUCKETS, registers: [registry] }),
    podStartDuration: new Histogram({ name: 'moor_agent_pod_start_duration_seconds', help: 'Time from the agent first seeing a pod to all its containers running, in seconds.', buckets: SYNC_BUCKETS, registers: [registry] }),
    relistDuration: new Histogram({ name: 'moor_agent_pleg_relist_duration_seconds', help: 'Duration of one relist of sandboxes and containers, in seconds.', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry] }),
    runningPods: new Gauge({ name: 'moor_agent_running_pods', help: 'Pods with a ready sandbox.', registers: [registry] }),
    runningContainers: new Gauge({ name: 'moor_agent_running_containers', help: 'Containers in the running state.', registers: [registry] }),
    containerRestarts: new Counter({ name: 'moor_agent_container_restarts_total', help: 'Containers started again after an earlier instance.', registers: [registry] }),
    syncErrors: new Counter({ name: 'moor_agent_sync_step_errors_total', help: 'Failed steps of pod syncs, by step.', labelNames: ['step'], registers: [registry] }),
    runtimeOperations: new Counter({ name: 'moor_agent_runtime_operations_total', help: 'CRI calls, by RPC.', labelNames: ['operation_type'], registers: [registry] }),
    runtimeOperationErrors: new Counter({ name: 'moor_agent_runtime_operations_errors_total', help: 'Failed CRI calls, by RPC.', labelNames: ['operation_type'], registers: [registry] }),
    runtimeOperationDuration: new Histogram({ name: 'moor_agent_runtime_operations_duration_seconds', help: 'Duration of CRI calls in seconds, by RPC.', labelNames: ['operation_type'], buckets: SYNC_BUCKETS, registers: [registry] }),
    manifestErrors: new Gauge({ name: 'moor_agent_manifest_errors', help: 'Manifest documents that failed validation.', registers: [registry] }),
  };
}
