// The agent assembled from its parts: CRI client, pod workers, PLEG, the manifest source and the
// HTTP API. start() refuses to go on when the runtime does not answer (Version and Status, since a
// socket alone proves nothing); stop() stops the agent's own loops and leaves every pod running.
// With --kubeconfig it also joins the control plane (node/, source/api-*.ts): Node and Lease, the
// pods bound to the node as a second source, their status written back, HTTPS for the log proxy.

import { mkdir, readFile } from 'node:fs/promises';
import { NodeError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { KeyedBackoff } from '../common/backoff.ts';
import type { AgentConfig } from './config.ts';
import { createCriClient } from './cri/client.ts';
import type { CriClient } from './cri/types.ts';
import { detectNodeIp, nodeCpuMilli, nodeMemoryBytes, readResolvConf } from './host/node.ts';
import { createAgentMetrics, type AgentMetrics } from './metrics.ts';
import { PodInspector } from './pod/inspect.ts';
import { newImageCalls, type SyncContext } from './pod/sync.ts';
import type { Pod } from './pod/types.ts';
import { PodWorkers } from './pod/workers.ts';
import { Pleg } from './pleg.ts';
import { ApiServer, findContainerLog } from './server.ts';
import { FileSource } from './source/file-source.ts';
import type { ManifestStatus } from './source/types.ts';
import { VolumeManager } from './volumes.ts';
import { ApiClient } from '../controlplane/client/client.ts';
import { NodeLease } from './node/lease.ts';
import { PodRoutes } from './node/pod-routes.ts';
import { ensureBridgeConflist } from './node/cni-config.ts';
import { ensureSelfSignedCert } from './host/serving-cert.ts';
import { loadKubeconfig } from '../controlplane/client/kubeconfig.ts';
import type { Node as ApiNode } from '../controlplane/client/types.ts';
import { NodeStatusReporter, readNodeInfo } from './node/register.ts';
import { ApiSource } from './source/api-source.ts';
import { PodStatusWriter } from './source/api-status.ts';
import { MirrorPods } from './source/mirror-pods.ts';
import { LABEL_POD_UID } from './pod/labels.ts';

export class AgentStartError extends NodeError {
  constructor(message: string, cause?: unknown) {
    super('agent-start-failed', message, { cause });
  }
}

/** PLEG not relisting for this long makes /healthz fail, like the kubelet's 3 min threshold. */
const RELIST_HEALTH_THRESHOLD_MS = 3 * 60_000;
const STARTUP_CHECK_TIMEOUT_MS = 10_000;

export interface AgentOptions {
  readonly config: AgentConfig;
  readonly log: Logger;
  /** A runtime to use instead of connecting to config.containerRuntimeEndpoint (tests). */
  readonly cri?: CriClient;
  readonly metrics?: AgentMetrics;
}

export class Agent {
  readonly config: AgentConfig;
  readonly metrics: AgentMetrics;
  readonly #log: Logger;
  readonly #ownsCri: boolean;
  #cri: CriClient | undefined;
  #workers: PodWorkers | undefined;
  #pleg: Pleg | undefined;
  #source: FileSource | undefined;
  #server: ApiServer | undefined;
  #port = 0;
  #nodeIp = '';
  #stopped = false;
  // Joined to a control plane (--kubeconfig): the second pod source and the node's objects.
  #apiSource: ApiSource | undefined;
  #statusWriter: PodStatusWriter | undefined;
  #mirrors: MirrorPods | undefined;
  #nodeReporter: NodeStatusReporter | undefined;
  #lease: NodeLease | undefined;
  #filePods: readonly Pod[] = [];
  #apiPods: readonly Pod[] = [];
  #podCidr = '';
  #cniWrite: Promise<void> = Promise.resolve();
  #joining: Promise<void> = Promise.resolve();
  #podRoutes: PodRoutes | undefined;

  constructor(opts: AgentOptions) {
    this.config = opts.config;
    this.#log = opts.log;
    this.#cri = opts.cri;
    this.#ownsCri = opts.cri === undefined;
    this.metrics = opts.metrics ?? createAgentMetrics({ processMetrics: true });
  }

  get workers(): PodWorkers {
    if (this.#workers === undefined) throw new Error('agent not started');
    return this.#workers;
  }

  /** The HTTP API port actually bound (--port 0 picks a free one). */
  get port(): number {
    return this.#port;
  }

  get nodeIp(): string {
    return this.#nodeIp;
  }

  /** Check the runtime answers, then start every loop. */
  async start(): Promise<void> {
    const cfg = this.config;
    const log = this.#log;
    await this.#checkRuntime();
    const metrics = this.metrics;
    const cri = this.#cri ?? createCriClient({
      endpoint: cfg.containerRuntimeEndpoint, timeoutMs: cfg.runtimeRequestTimeoutMs, log: log.child({ component: 'cri' }),
      onCall: (method, durationMs, failed) => {
        metrics.runtimeOperations.inc({ operation_type: method });
        if (failed) metrics.runtimeOperationErrors.inc({ operation_type: method });
        metrics.runtimeOperationDuration.observe({ operation_type: method }, durationMs / 1000);
      },
    });
    this.#cri = cri;
    for (const dir of [cfg.rootDir, `${cfg.rootDir}/pods`, cfg.podLogsDir]) {
      try {
        await mkdir(dir, { recursive: true });
      } catch (err) {
        throw new AgentStartError(`create directory ${dir}: ${errorMessage(err)}`, err);
      }
    }
    this.#nodeIp = cfg.nodeIp !== '' ? cfg.nodeIp : await detectNodeIp();
    const sync: SyncContext = {
      cri,
      log: log.child({ component: 'sync' }),
      volumes: new VolumeManager({ rootDir: cfg.rootDir, log: log.child({ component: 'volumes' }) }),
      node: { name: cfg.nodeName, ip: this.#nodeIp, memoryBytes: nodeMemoryBytes(), cpuMilli: nodeCpuMilli(), resolvConf: await readResolvConf(cfg.resolvConf) },
      podLogsDir: cfg.podLogsDir,
      cgroupRoot: cfg.cgroupRoot,
      crashBackoff: new KeyedBackoff({ ...cfg.crashLoopBackOff, resetAfterMs: Math.max(2 * cfg.crashLoopBackOff.maxMs, 600_000) }),
      imageBackoff: new KeyedBackoff({ ...cfg.imagePullBackOff }),
      images: newImageCalls(),
      now: Date.now,
      onContainerStarted: (e) => {
        if (e.restartCount > 0) this.metrics.containerRestarts.inc();
      },
    };
    const workers = new PodWorkers({
      sync,
      inspector: new PodInspector(cri),
      metrics: this.metrics,
      log: log.child({ component: 'pods' }),
      maxPods: cfg.maxPods,
      resyncPeriodMs: cfg.syncFrequencyMs,
      onStatus: (pod, status) => this.#statusWriter?.set(pod, status),
    });
    this.#workers = workers;
    await workers.loadCheckpoints();

    {
      const tls = await this.#servingTls();
      this.#server = new ApiServer({
        ...(tls !== undefined ? { tls } : {}),
        address: cfg.address,
        port: cfg.port,
        metrics: this.metrics,
        log: log.child({ component: 'api' }),
        backend: {
          listPods: () => workers.listPods(),
          manifests: () => this.manifests(),
          unhealthy: () => this.unhealthy(),
          containerLog: (uid, container, previous) => {
            const pod = workers.getPod(uid);
            if (pod === undefined) return { status: 404, error: `pod ${uid} not found` };
            return findContainerLog(pod, () => workers.observed(uid), container, previous);
          },
        },
      });
      try {
        this.#port = (await this.#server.listen()).port;
      } catch (err) {
        throw new AgentStartError(errorMessage(err), err);
      }
    }

    this.#pleg = new Pleg({
      cri,
      log: log.child({ component: 'pleg' }),
      relistPeriodMs: cfg.relistPeriodMs,
      onRelist: (events, snapshot, durationMs) => {
        this.metrics.relistDuration.observe(durationMs / 1000);
        workers.handleRelist(events, snapshot);
      },
    });
    // The first relist comes before the source's first set, but orphans are only terminated once
    // the source is ready: no pod is killed just because its manifest was not read yet.
    await this.#pleg.relist();
    this.#pleg.start();

    if (cfg.podManifestPath !== '') {
      this.#source = new FileSource({ path: cfg.podManifestPath, nodeName: cfg.nodeName, log: log.child({ component: 'manifests' }), rescanPeriodMs: cfg.fileCheckFrequencyMs });
      await this.#source.start((update) => {
        this.metrics.manifestErrors.set(update.manifests.reduce((n, m) => n + m.problems.length, 0));
        this.#filePods = update.pods;
        workers.setPods([...this.#filePods, ...this.#apiPods]);
        this.#mirrors?.setStaticPods(update.pods);
      });
    }
    if (cfg.kubeconfig !== '') {
      const client = this.#makeClient();
      // Static pods run at once, even while the server cannot be reached; pods nobody wants are
      // only terminated once the server's set of pods for this node arrived as well.
      workers.start();
      this.#joining = this.#join(client, cri, workers).then(
        () => {
          if (!this.#stopped) workers.markSourcesReady();
        },
        (err: unknown) => log.error({ err: errorMessage(err) }, 'join the control plane failed'),
      );
    } else {
      workers.markSourcesReady();
      workers.start();
    }
    log.info({ node: cfg.nodeName, nodeIp: this.#nodeIp, runtime: cfg.containerRuntimeEndpoint, manifests: cfg.podManifestPath, api: `${cfg.address}:${this.#port}` }, 'agent started');
  }

  #makeClient(): ApiClient {
    const cfg = this.config;
    try {
      return ApiClient.fromKubeconfig(cfg.kubeconfig, { log: this.#log.child({ component: 'api-client' }) });
    } catch (err) {
      throw new AgentStartError(`read kubeconfig ${cfg.kubeconfig}: ${errorMessage(err)}`, err);
    }
  }

  /**
   * Join the control plane: register the Node (a failure is retried by the status loop), renew the
   * Lease, write pod statuses, and take the pods bound to this node as the second source. Resolves
   * once the first list of those pods arrived, so no running pod is taken for an orphan.
   */
  async #join(client: ApiClient, cri: CriClient, workers: PodWorkers): Promise<void> {
    const cfg = this.config;
    const log = this.#log;
    const version = await cri.version();
    const facts = {
      nodeName: cfg.nodeName, nodeIp: this.#nodeIp, port: this.#port, cpuMilli: nodeCpuMilli(), memoryBytes: nodeMemoryBytes(), maxPods: cfg.maxPods,
      nodeInfo: await readNodeInfo({ name: version.runtimeName, version: version.runtimeVersion }),
    };
    this.#nodeReporter = new NodeStatusReporter({ client, facts, log: log.child({ component: 'node-status' }), periodMs: cfg.nodeStatusUpdateFrequencyMs,
      notReady: () => this.unhealthy(),
      onNode: (node) => this.#applyPodCidr(node),
    });
    try {
      await this.#nodeReporter.register();
    } catch (err) {
      log.warn({ err: errorMessage(err), server: cfg.kubeconfig }, 'register node failed; retrying with the node status updates');
    }
    if (this.#stopped) return;
    this.#nodeReporter.start();
    this.#lease = new NodeLease({ client, nodeName: cfg.nodeName, log: log.child({ component: 'node-lease' }), renewPeriodMs: 10_000 });
    this.#lease.start();
    if (cfg.podNetworkRoutes === 'host-gw') {
      this.#podRoutes = new PodRoutes({ client, nodeName: cfg.nodeName, log: log.child({ component: 'pod-routes' }) });
      void this.#podRoutes.start().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'start pod routes failed'));
    }
    const source = new ApiSource({
      client, nodeName: cfg.nodeName, log: log.child({ component: 'api-source' }),
      onDeleting: (podUid, seconds) => workers.setGracePeriodOverride(podUid, seconds),
      onSet: (podUids) => this.#statusWriter?.retain(podUids),
      isPodGone: async (podUid) => {
        if (workers.hasPod(podUid)) return false;
        const selector = { labelSelector: { [LABEL_POD_UID]: podUid } };
        const [sandboxes, containers] = await Promise.all([cri.listPodSandbox(selector), cri.listContainers(selector)]);
        return sandboxes.length === 0 && containers.length === 0;
      },
    });
    this.#apiSource = source;
    this.#statusWriter = new PodStatusWriter({ client, log: log.child({ component: 'pod-status' }), isApiPod: (uid) => source.has(uid), mirrorOf: (uid) => this.#mirrors?.mirrorOf(uid) });
    const writer = this.#statusWriter;
    // Static pods appear in the API as mirror pods (source/mirror-pods.ts).
    const mirrors = new MirrorPods({ client, nodeName: cfg.nodeName, log: log.child({ component: 'mirror-pods' }), apiPods: () => source.list(),
      statusOf: (uid) => workers.getPod(uid)?.status, writeStatus: (pod, status) => writer.set(pod, status), forgetStatus: (uid) => writer.forget(uid) });
    this.#mirrors = mirrors;
    source.addChangeListener(() => mirrors.changed());
    await source.start((update) => {
      this.#apiPods = update.pods;
      workers.setPods([...this.#filePods, ...this.#apiPods]);
    });
    // Pods already running when the agent (re)started: write their status once the source knows them.
    for (const pod of workers.listPods()) if (pod.status !== undefined && source.has(pod.metadata.uid)) this.#statusWriter.set(pod, pod.status);
    if (!this.#stopped) mirrors.start(this.#filePods);
    log.info({ node: cfg.nodeName, pods: this.#apiPods.length }, 'joined the control plane');
  }

  /**
   * HTTPS material for the API: the configured certificate, or a self-signed one when joined;
   * client certificates checked against --client-ca-file, or the cluster CA when joined. Standalone
   * without flags: undefined (plain HTTP).
   */
  async #servingTls(): Promise<{ cert: Buffer; key: Buffer; clientCa?: Buffer } | undefined> {
    const cfg = this.config;
    const joined = cfg.kubeconfig !== '';
    if (!joined && cfg.tlsCertFile === '') return undefined;
    try {
      const files = cfg.tlsCertFile !== ''
        ? { certFile: cfg.tlsCertFile, keyFile: cfg.tlsPrivateKeyFile }
        : await ensureSelfSignedCert(`${cfg.rootDir}/pki`, { nodeName: cfg.nodeName, nodeIp: this.#nodeIp });
      const [cert, key] = await Promise.all([readFile(files.certFile), readFile(files.keyFile)]);
      let clientCa: Buffer | undefined;
      if (cfg.clientCaFile !== '') clientCa = await readFile(cfg.clientCaFile);
      else if (joined) {
        const caPem = loadKubeconfig(cfg.kubeconfig).caPem;
        if (caPem !== undefined) clientCa = Buffer.from(caPem);
      }
      return { cert, key, ...(clientCa !== undefined ? { clientCa } : {}) };
    } catch (err) {
      throw new AgentStartError(`set up HTTPS for the agent API: ${errorMessage(err)}`, err);
    }
  }

  /** The node's pod CIDR as the server allocated it: write the conflist for it (--cni-conf-dir). */
  #applyPodCidr(node: ApiNode): void {
    const podCidr = node.spec?.podCIDR ?? '';
    const confDir = this.config.cniConfDir;
    if (podCidr === '' || podCidr === this.#podCidr) return;
    this.#podCidr = podCidr;
    this.#log.info({ podCidr }, 'node pod CIDR');
    if (confDir === '') return;
    this.#cniWrite = this.#cniWrite.then(async () => {
      try {
        const bridge = this.config.cniBridge;
        // One network per bridge: host-local style IPAM keeps its reservations under the network's name.
        const name = bridge === 'moor0' ? 'moor' : `moor-${bridge}`;
        const nonMasqueradeCidrs = this.config.nonMasqueradeCidr !== '' ? [this.config.nonMasqueradeCidr] : [];
        if (await ensureBridgeConflist(confDir, { podCidr, bridge, name, ...(nonMasqueradeCidrs.length > 0 ? { nonMasqueradeCidrs } : {}) })) this.#log.info({ podCidr, confDir, nonMasqueradeCidrs }, 'pod network config written');
      } catch (err) {
        this.#podCidr = ''; // try again with the next node status
        this.#log.warn({ podCidr, confDir, err: errorMessage(err) }, 'write pod network config failed');
      }
    });
  }

  /** The pod CIDR the server gave this node ('' until it did, or standalone). */
  get podCidr(): string {
    return this.#podCidr;
  }

  async #checkRuntime(): Promise<void> {
    const cfg = this.config;
    const probe = this.#cri ?? createCriClient({ endpoint: cfg.containerRuntimeEndpoint, timeoutMs: STARTUP_CHECK_TIMEOUT_MS });
    try {
      const version = await probe.version();
      const status = await probe.status();
      const notReady = status.conditions.filter((c) => c.type === 'RuntimeReady' && !c.status);
      if (notReady.length > 0) throw new Error(`runtime not ready: ${notReady.map((c) => `${c.reason} ${c.message}`.trim()).join('; ')}`);
      const network = status.conditions.find((c) => c.type === 'NetworkReady');
      if (network !== undefined && !network.status) this.#log.warn({ reason: network.reason, message: network.message }, 'runtime network not ready: pods on the pod network cannot start until it is');
      this.#log.info({ runtime: version.runtimeName, version: version.runtimeVersion, api: version.runtimeApiVersion }, 'container runtime answers');
    } catch (err) {
      throw new AgentStartError(`connect to container runtime ${cfg.containerRuntimeEndpoint}: ${errorMessage(err)}`, err);
    } finally {
      if (this.#cri === undefined) probe.close();
    }
  }

  manifests(): readonly ManifestStatus[] {
    return this.#source?.manifests ?? [];
  }

  listPods(): Pod[] {
    return this.#workers?.listPods() ?? [];
  }

  unhealthy(): string | undefined {
    if (this.#pleg === undefined) return 'starting';
    const last = this.#pleg.lastSuccessMs;
    if (Date.now() - last > RELIST_HEALTH_THRESHOLD_MS) return `pleg: no successful relist for ${Math.round((Date.now() - last) / 1000)}s`;
    return undefined;
  }

  /** Stop the agent's loops and API. Pods keep running: they are not the agent's processes. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const started = this.#workers !== undefined;
    await this.#source?.stop();
    await this.#apiSource?.stop();
    await this.#joining;
    await this.#mirrors?.stop();
    await this.#lease?.stop();
    await this.#podRoutes?.stop();
    await this.#nodeReporter?.stop();
    await this.#statusWriter?.stop();
    await this.#cniWrite;
    await this.#pleg?.stop();
    await this.#workers?.stop();
    await this.#server?.close();
    if (this.#ownsCri) this.#cri?.close();
    if (started) this.#log.info('agent stopped; pods left running');
  }
}
