// Node process metrics (CPU, memory, handles, GC, event loop lag) for a component's registry.
//
// prom-client samples the event loop lag with a libuv timer every 10 ms by default: 100 wake-ups a
// second, which was most of an idle agent's CPU (~0.8 % of a core, more than its relist of 100
// pods). Sampled every 100 ms it costs a tenth of that, and the lag of any stall longer than
// 100 ms is still recorded.

import { collectDefaultMetrics, type Registry } from 'prom-client';

export const EVENT_LOOP_SAMPLE_MS = 100;

export function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}
