// /metrics for `moor server`: request counts and latencies by verb, resource and code, open watches,
// plus the process metrics. The only importer of prom-client in the control plane; one registry per
// server so tests can run several in one process.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../../common/process-metrics.ts';

export class ApiMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'verb' | 'resource' | 'code'>;
  readonly #duration: Histogram<'verb' | 'resource'>;
  readonly #watches: Gauge;

  constructor(opts: { processMetrics?: boolean } = {}) {
    this.#requests = new Counter({ name: 'moor_apiserver_requests_total', help: 'API requests by verb, resource and HTTP code.', labelNames: ['verb', 'resource', 'code'], registers: [this.registry] });
    this.#duration = new Histogram({
      name: 'moor_apiserver_request_duration_seconds', help: 'API request latency (watches excluded) by verb and resource.', labelNames: ['verb', 'resource'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
    });
    this.#watches = new Gauge({ name: 'moor_apiserver_watches', help: 'Open watch streams.', registers: [this.registry] });
    if (opts.processMetrics !== false) collectProcessMetrics(this.registry, 'moor_apiserver_');
  }

  observe(verb: string, resource: string, code: number, seconds: number): void {
    this.#requests.inc({ verb, resource, code: String(code) });
    if (verb !== 'watch') this.#duration.observe({ verb, resource }, seconds);
  }

  watchOpened(): void {
    this.#watches.inc();
  }

  watchClosed(): void {
    this.#watches.dec();
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
