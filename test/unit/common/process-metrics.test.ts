// Process metrics: registered under the component's prefix, the event loop lag sampled every
// EVENT_LOOP_SAMPLE_MS (a 10 ms sampler was most of an idle agent's CPU).
import t from 'tap';
import { Registry } from 'prom-client';
import { collectProcessMetrics, EVENT_LOOP_SAMPLE_MS } from '../../../common/process-metrics.ts';

t.test('process metrics under the prefix, with event loop lag', async (t) => {
  const registry = new Registry();
  collectProcessMetrics(registry, 'moor_test_');
  // Let the lag sampler take a few samples.
  await new Promise((r) => setTimeout(r, EVENT_LOOP_SAMPLE_MS * 4));
  const text = await registry.metrics();
  t.match(text, /^moor_test_process_cpu_seconds_total \d/m, 'CPU');
  t.match(text, /^moor_test_process_resident_memory_bytes \d/m, 'RSS');
  t.match(text, /^moor_test_nodejs_eventloop_lag_p99_seconds \d/m, 'event loop lag');
  t.ok(EVENT_LOOP_SAMPLE_MS >= 100, 'sampled at most ten times a second');
});
