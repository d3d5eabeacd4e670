// Endpoints controller: for every Service with a selector, an Endpoints object of the same name whose
// subsets list the selected pods' IPs — ready ones in `addresses`, the others in
// `notReadyAddresses` (all in `addresses` with publishNotReadyAddresses) — with target ports resolved
// (numbers, or container port names), pods grouped by the ports they serve. Services without a
// selector keep hand-written Endpoints; a deleted Service loses its Endpoints.

import type { Logger } from 'pino';
import { silentLogger } from '../../common/log.ts';
import type { ApiClient } from '../client/client.ts';
import { isAlreadyExists, isNotFound } from '../client/errors.ts';
import type { Informer, InformerFactory } from '../client/informer.ts';
import { matchesMap } from '../client/labels.ts';
import { ENDPOINTS, objectKey, PODS, SERVICES, splitKey } from '../client/resources.ts';
import type { EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service, ServicePort } from '../client/types.ts';
import { WorkQueue, type ReconcileResult } from '../client/work-queue.ts';
import { canonical, isPodReady } from './util.ts';

// ---- pure parts ----

/** The pod's port for a service port: targetPort as a number, or a named container port of the same protocol. */
export function resolveTargetPort(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = sp.protocol ?? 'TCP';
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

/** Should the pod appear at all: has an IP, is not being deleted, has not finished for good. */
export function shouldPodBeInEndpoints(pod: Pod): boolean {
  if (pod.metadata.deletionTimestamp !== undefined) return false;
  const ip = pod.status?.podIP;
  if (ip === undefined || ip === '') return false;
  const phase = pod.status?.phase;
  if (phase === 'Failed') return pod.spec.restartPolicy === 'Always';
  if (phase === 'Succeeded') return false;
  return true;
}

/** Subsets for the service from its selected pods (already filtered by the selector), sorted for stable output. */
export function computeEndpointSubsets(svc: Service, pods: readonly Pod[]): EndpointSubset[] {
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  const groups = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod)) continue;
    const ports: EndpointPort[] = [];
    for (const sp of svc.spec?.ports ?? []) {
      const port = resolveTargetPort(pod, sp);
      if (port === undefined) continue;
      ports.push({ ...(sp.name === undefined || sp.name === '' ? {} : { name: sp.name }), port, protocol: sp.protocol ?? 'TCP' });
    }
    if ((svc.spec?.ports ?? []).length > 0 && ports.length === 0) continue;
    ports.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port);
    const key = canonical(ports);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { ports, ready: [], notReady: [] }));
    const addr: EndpointAddress = {
      ip: String(pod.status!.podIP),
      ...(pod.spec.nodeName === undefined || pod.spec.nodeName === '' ? {} : { nodeName: pod.spec.nodeName }),
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: String(pod.metadata.name), uid: pod.metadata.uid },
    };
    if (publishNotReady || isPodReady(pod)) g.ready.push(addr); else g.notReady.push(addr);
  }
  const byIp = (a: EndpointAddress, b: EndpointAddress): number => a.ip.localeCompare(b.ip, undefined, { numeric: true }) || (a.targetRef?.name ?? '').localeCompare(b.targetRef?.name ?? '');
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, g]) => {
    const s: EndpointSubset = {};
    if (g.ready.length > 0) s.addresses = g.ready.sort(byIp);
    if (g.notReady.length > 0) s.notReadyAddresses = g.notReady.sort(byIp);
    if (g.ports.length > 0) s.ports = g.ports;
    return s;
  });
}

// ---- the controller ----

export interface EndpointsControllerOptions {
  readonly client: ApiClient;
  readonly informers: InformerFactory;
  readonly log?: Logger;
  readonly workers?: number;
}

export class EndpointsController {
  readonly #client: ApiClient;
  readonly #log: Logger;
  readonly #services: Informer<Service>;
  readonly #pods: Informer<Pod>;
  readonly #endpoints: Informer<Endpoints>;
  readonly queue: WorkQueue;

  constructor(opts: EndpointsControllerOptions) {
    this.#client = opts.client;
    this.#log = (opts.log ?? silentLogger()).child({ controller: 'endpoints' });
    const byNs = { namespace: (o: { metadata: { namespace?: string } }) => [o.metadata.namespace ?? ''] };
    this.#services = opts.informers.informerFor(SERVICES, {}, byNs);
    this.#pods = opts.informers.informerFor(PODS, {}, byNs);
    this.#endpoints = opts.informers.informerFor(ENDPOINTS);
    this.queue = new WorkQueue({ name: 'endpoints', reconcile: (key) => this.reconcile(key), log: this.#log, maxConcurrent: opts.workers ?? 5 });
    this.#services.addHandler({
      onAdd: (s) => this.queue.add(objectKey(s)),
      onUpdate: (_o, s) => this.queue.add(objectKey(s)),
      onDelete: (s) => this.queue.add(objectKey(s)),
    });
    this.#pods.addHandler({
      onAdd: (p) => this.#onPod(p),
      onUpdate: (old, p) => { if (old !== p) { this.#onPod(p); if (canonical(old.metadata.labels) !== canonical(p.metadata.labels)) this.#onPod(old); } },
      onDelete: (p) => this.#onPod(p),
    });
    this.#endpoints.addHandler({
      onDelete: (e) => { if (this.#services.get(objectKey(e)) !== undefined) this.queue.add(objectKey(e)); },
    });
  }

  #onPod(p: Pod): void {
    for (const svc of this.#services.byIndex('namespace', p.metadata.namespace ?? '')) {
      if (matchesMap(svc.spec?.selector, p.metadata.labels)) this.queue.add(objectKey(svc));
    }
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const svc = this.#services.get(key);
    if (svc === undefined) {
      if (this.#endpoints.get(key) === undefined) return;
      try {
        await this.#client.delete(ENDPOINTS, name, { namespace });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return;
    }
    const selector = svc.spec?.selector;
    if (selector === undefined || Object.keys(selector).length === 0) return;
    const pods = this.#pods.byIndex('namespace', namespace ?? '').filter((p) => matchesMap(selector, p.metadata.labels));
    const subsets = computeEndpointSubsets(svc, pods);
    const labels = { ...(svc.metadata.labels ?? {}) };
    const current = this.#endpoints.get(key);
    if (current !== undefined && canonical(current.subsets ?? []) === canonical(subsets) && canonical(current.metadata.labels ?? {}) === canonical(labels)) return;
    const desired: Endpoints = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace, labels }, subsets };
    if (current === undefined) {
      try {
        await this.#client.create(ENDPOINTS, desired);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        // The cache lags: read it and replace.
        const live = await this.#client.get(ENDPOINTS, name, { namespace });
        await this.#client.update(ENDPOINTS, { ...live, metadata: { ...live.metadata, labels }, subsets });
      }
    } else {
      await this.#client.update(ENDPOINTS, { ...current, metadata: { ...current.metadata, labels }, subsets });
    }
    this.#log.debug({ service: key, ready: subsets.reduce((n, s) => n + (s.addresses?.length ?? 0), 0) }, 'endpoints written');
    return undefined;
  }
}
