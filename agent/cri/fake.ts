// An in-memory CRI runtime with the same interface as the real client, for tests of the layers
// above (pod sync, PLEG, probes). It follows containerd 1.6's observable behaviour where it
// matters to an agent: sandbox and container states, name reservation
// (`<name>_<namespace>_<uid>_<attempt>`), NOT_FOUND for unknown ids, the uneven idempotency of the
// stop/remove calls, images that must be present before CreateContainer. Containers do not run
// anything: tests make them exit (exitContainer), script exec results (setExecHandler) and inject
// failures (failNext, failNextStart). The same contract tests run against it and containerd.

import { createHash, randomBytes } from 'node:crypto';
import { CriError, GrpcCode } from './errors.ts';
import type {
  AuthConfig,
  Container,
  ContainerConfig,
  ContainerFilter,
  ContainerState,
  ContainerStats,
  ContainerStatus,
  CriClient,
  ExecSyncResult,
  FilesystemUsage,
  Image,
  ImageSpec,
  Labels,
  LinuxContainerResources,
  ListedState,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxState,
  PodSandboxStatus,
  RuntimeStatus,
  VersionInfo,
} from './types.ts';

export type FakeCriMethod = Exclude<keyof CriClient, 'endpoint' | 'close'>;

export interface FakeCriOptions {
  /** References that pullImage can fetch; default: any reference. */
  readonly registry?: readonly string[];
  /** Images present from the start, as if pulled. */
  readonly images?: readonly string[];
  /** Milliseconds since the epoch; default Date.now. */
  readonly now?: () => number;
  /** First three octets of the fake pod network; default "10.88.0". */
  readonly podNetworkPrefix?: string;
}

export type ExecHandler = (containerId: string, cmd: readonly string[]) => ExecSyncResult | Promise<ExecSyncResult>;

export interface FakeCall {
  readonly method: FakeCriMethod;
  readonly target?: string;
}

export interface FakeCri extends CriClient {
  /** Every call made, in order (failed ones included). */
  readonly calls: readonly FakeCall[];
  /** Make a running container exit, as if its process ended. Reason defaults to Completed/Error. */
  exitContainer(containerId: string, exit: { exitCode: number; reason?: string; message?: string }): void;
  /** Decide what execSync returns; the default answers exit code 0 with no output. */
  setExecHandler(handler: ExecHandler): void;
  /** The next call of `method` fails with `error` (a CriError, or one made from a gRPC code and text). */
  failNext(method: FakeCriMethod, error: CriError | { grpcCode: number; details: string }): void;
  /** The next startContainer fails as containerd does when the executable is missing: exited, 128, StartError. */
  failNextStart(message?: string): void;
  /** Every container in the fake, including exited ones. */
  containerIds(): string[];
}

interface SandboxRecord {
  readonly id: string;
  readonly config: PodSandboxConfig;
  readonly name: string;
  readonly createdAtMs: number;
  readonly runtimeHandler: string;
  state: PodSandboxState;
  ip: string;
}

interface ContainerRecord {
  readonly id: string;
  readonly podSandboxId: string;
  readonly config: ContainerConfig;
  readonly name: string;
  readonly image: Image;
  readonly createdAtMs: number;
  state: ContainerState;
  startedAtMs: number;
  finishedAtMs: number;
  exitCode: number;
  reason: string;
  message: string;
  resources: LinuxContainerResources | undefined;
}

function newId(): string {
  return randomBytes(32).toString('hex');
}

function imageId(ref: string): string {
  return `sha256:${createHash('sha256').update(`config:${ref}`).digest('hex')}`;
}

function repoOf(ref: string): string {
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(0, at);
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? ref.slice(0, colon) : ref;
}

function listed<S extends string>(id: string, state: S, label: string | undefined): ListedState<S> {
  return label === undefined ? { id, state } : { id, state, label };
}

function matchesLabels(labels: Labels | undefined, selector: Labels | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

export function createFakeCri(opts: FakeCriOptions = {}): FakeCri {
  const now = opts.now ?? Date.now;
  const prefix = opts.podNetworkPrefix ?? '10.88.0';
  const sandboxes = new Map<string, SandboxRecord>();
  const containers = new Map<string, ContainerRecord>();
  /** Reserved name -> id, for sandboxes and containers alike (the forms cannot collide). */
  const names = new Map<string, string>();
  const images = new Map<string, Image>();
  const calls: FakeCall[] = [];
  const failures = new Map<FakeCriMethod, CriError[]>();
  let startFailure: string | undefined;
  let execHandler: ExecHandler = () => ({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 });
  let nextIp = 2;
  let closed = false;

  const addImage = (ref: string): Image => {
    const existing = findImage(ref);
    if (existing !== undefined) return existing;
    const id = imageId(ref);
    const digest = createHash('sha256').update(`manifest:${ref}`).digest('hex');
    const image: Image = { id, repoTags: [ref], repoDigests: [`${repoOf(ref)}@sha256:${digest}`], sizeBytes: 1024 * 1024, username: '', pinned: false };
    images.set(id, image);
    return image;
  };
  const findImage = (ref: string): Image | undefined => {
    for (const image of images.values()) {
      if (image.id === ref || image.id === `sha256:${ref}` || image.repoTags.includes(ref) || image.repoDigests.includes(ref)) return image;
    }
    return undefined;
  };
  for (const ref of opts.images ?? []) addImage(ref);

  /** Record the call, then throw an injected failure if one is queued. */
  const enter = (method: FakeCriMethod, target?: string): void => {
    calls.push({ method, target });
    if (closed) throw new CriError({ method, target, grpcCode: GrpcCode.CANCELLED, details: 'client is closed' });
    const queued = failures.get(method);
    const injected = queued?.shift();
    if (injected !== undefined) throw injected;
  };
  const notFound = (method: string, what: 'sandbox' | 'container', id: string): CriError =>
    new CriError({ method, target: id, grpcCode: GrpcCode.NOT_FOUND, details: `an error occurred when try to find ${what} "${id}": not found` });
  const unknown = (method: string, target: string | undefined, details: string): CriError =>
    new CriError({ method, target, grpcCode: GrpcCode.UNKNOWN, details });

  const getSandbox = (method: string, id: string): SandboxRecord => {
    const s = sandboxes.get(id);
    if (s === undefined) throw notFound(method, 'sandbox', id);
    return s;
  };
  const getContainer = (method: string, id: string): ContainerRecord => {
    const c = containers.get(id);
    if (c === undefined) throw notFound(method, 'container', id);
    return c;
  };
  const reserve = (method: string, kind: 'sandbox' | 'container', name: string, id: string): void => {
    const holder = names.get(name);
    if (holder !== undefined) throw unknown(method, name, `failed to reserve ${kind} name "${name}": name "${name}" is reserved for "${holder}"`);
    names.set(name, id);
  };
  const kill = (c: ContainerRecord): void => {
    if (c.state !== 'running') return;
    c.state = 'exited';
    c.finishedAtMs = now();
    c.exitCode = 137;
    c.reason = 'Error';
  };
  const removeContainerRecord = (c: ContainerRecord): void => {
    kill(c);
    containers.delete(c.id);
    names.delete(c.name);
  };
  const stopSandbox = (s: SandboxRecord): void => {
    for (const c of containers.values()) if (c.podSandboxId === s.id) kill(c);
    s.state = 'notready';
    s.ip = '';
  };

  const sandboxView = (s: SandboxRecord): PodSandbox => ({
    id: s.id,
    metadata: { ...s.config.metadata },
    state: s.state,
    createdAtMs: s.createdAtMs,
    labels: { ...(s.config.labels ?? {}) },
    annotations: { ...(s.config.annotations ?? {}) },
    runtimeHandler: s.runtimeHandler,
  });
  const containerView = (c: ContainerRecord): Container => ({
    id: c.id,
    podSandboxId: c.podSandboxId,
    metadata: { ...c.config.metadata },
    image: c.config.image.image,
    imageRef: c.image.id,
    state: c.state,
    createdAtMs: c.createdAtMs,
    labels: { ...(c.config.labels ?? {}) },
    annotations: { ...(c.config.annotations ?? {}) },
  });
  const statusView = (c: ContainerRecord): ContainerStatus => {
    const sandbox = sandboxes.get(c.podSandboxId);
    const logPath = c.config.logPath ? `${sandbox?.config.logDirectory ?? ''}/${c.config.logPath}` : '';
    return {
      id: c.id,
      metadata: { ...c.config.metadata },
      state: c.state,
      createdAtMs: c.createdAtMs,
      startedAtMs: c.startedAtMs,
      finishedAtMs: c.finishedAtMs,
      exitCode: c.exitCode,
      image: c.image.repoTags[0] ?? c.config.image.image,
      imageRef: c.image.repoDigests[0] ?? c.image.id,
      reason: c.reason,
      message: c.message,
      labels: { ...(c.config.labels ?? {}) },
      annotations: { ...(c.config.annotations ?? {}) },
      mounts: (c.config.mounts ?? []).map((m) => ({ ...m })),
      logPath,
      resources: c.resources === undefined ? undefined : { ...c.resources },
      info: {},
    };
  };
  const statsView = (c: ContainerRecord): ContainerStats => ({
    id: c.id,
    metadata: { ...c.config.metadata },
    labels: { ...(c.config.labels ?? {}) },
    annotations: { ...(c.config.annotations ?? {}) },
    cpu: { timestampMs: now(), usageCoreNanoSeconds: 0, usageNanoCores: 0 },
    memory: { timestampMs: now(), workingSetBytes: 0, usageBytes: 0 },
  });
  const refOf = (image: string | ImageSpec): string => (typeof image === 'string' ? image : image.image);

  const fake: FakeCri = {
    endpoint: 'fake://cri',
    calls,

    close() {
      closed = true;
    },

    exitContainer(containerId, exit) {
      const c = getContainer('ExitContainer', containerId);
      if (c.state !== 'running') throw new Error(`fake cri: exit container ${containerId}: state is ${c.state}, not running`);
      c.state = 'exited';
      c.finishedAtMs = now();
      c.exitCode = exit.exitCode;
      c.reason = exit.reason ?? (exit.exitCode === 0 ? 'Completed' : 'Error');
      c.message = exit.message ?? '';
    },

    setExecHandler(handler) {
      execHandler = handler;
    },

    failNext(method, error) {
      const err = error instanceof CriError ? error : new CriError({ method, grpcCode: error.grpcCode, details: error.details });
      failures.set(method, [...(failures.get(method) ?? []), err]);
    },

    failNextStart(message) {
      startFailure = message ?? 'failed to create containerd task: failed to create shim task: OCI runtime create failed: exec: "/does/not/exist": stat /does/not/exist: no such file or directory';
    },

    containerIds() {
      return [...containers.keys()];
    },

    async version(): Promise<VersionInfo> {
      enter('version');
      return { version: '0.1.0', runtimeName: 'moor-fake', runtimeVersion: '0.0.0', runtimeApiVersion: 'v1' };
    },

    async status(): Promise<RuntimeStatus> {
      enter('status');
      return {
        conditions: [
          { type: 'RuntimeReady', status: true, reason: '', message: '' },
          { type: 'NetworkReady', status: true, reason: '', message: '' },
        ],
        info: {},
      };
    },

    async runPodSandbox(config, o) {
      enter('runPodSandbox', `${config.metadata?.namespace}/${config.metadata?.name}`);
      if (config.metadata === undefined) throw unknown('RunPodSandbox', undefined, 'sandbox config must include metadata');
      const m = config.metadata;
      const id = newId();
      const name = `${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;
      reserve('RunPodSandbox', 'sandbox', name, id);
      const hostNetwork = config.linux?.securityContext?.namespaceOptions?.network === 'node';
      const ip = hostNetwork ? '' : `${prefix}.${nextIp++}`;
      sandboxes.set(id, { id, config, name, createdAtMs: now(), runtimeHandler: o?.runtimeHandler ?? '', state: 'ready', ip });
      return id;
    },

    async stopPodSandbox(podSandboxId) {
      enter('stopPodSandbox', podSandboxId);
      stopSandbox(getSandbox('StopPodSandbox', podSandboxId));
    },

    async removePodSandbox(podSandboxId) {
      enter('removePodSandbox', podSandboxId);
      const s = sandboxes.get(podSandboxId);
      if (s === undefined) return; // containerd: removing an unknown sandbox succeeds
      stopSandbox(s);
      for (const c of [...containers.values()]) if (c.podSandboxId === s.id) removeContainerRecord(c);
      sandboxes.delete(s.id);
      names.delete(s.name);
    },

    async podSandboxStatus(podSandboxId, o): Promise<PodSandboxStatus> {
      enter('podSandboxStatus', podSandboxId);
      const s = getSandbox('PodSandboxStatus', podSandboxId);
      return {
        ...sandboxView(s),
        ip: s.ip,
        additionalIps: [],
        namespaceOptions: {
          network: s.config.linux?.securityContext?.namespaceOptions?.network ?? 'pod',
          pid: s.config.linux?.securityContext?.namespaceOptions?.pid ?? 'pod',
          ipc: s.config.linux?.securityContext?.namespaceOptions?.ipc ?? 'pod',
          targetId: '',
        },
        info: o?.verbose ? { fake: '{}' } : {},
      };
    },

    async listPodSandbox(filter?: PodSandboxFilter) {
      enter('listPodSandbox');
      return [...sandboxes.values()]
        .filter((s) => (!filter?.id || s.id.startsWith(filter.id)) && (filter?.state === undefined || s.state === filter.state))
        .filter((s) => matchesLabels(s.config.labels, filter?.labelSelector))
        .map(sandboxView);
    },

    async listPodSandboxStates(label: string) {
      enter('listPodSandboxStates');
      return [...sandboxes.values()].map((s) => listed(s.id, s.state, s.config.labels?.[label]));
    },

    async createContainer(podSandboxId, config, sandboxConfig) {
      enter('createContainer', `${podSandboxId}/${config.metadata?.name}`);
      const s = sandboxes.get(podSandboxId);
      if (s === undefined) {
        throw new CriError({ method: 'CreateContainer', target: podSandboxId, grpcCode: GrpcCode.NOT_FOUND, details: `failed to find sandbox id "${podSandboxId}": not found` });
      }
      if (config.metadata === undefined) throw unknown('CreateContainer', podSandboxId, 'container config must include metadata');
      if (sandboxConfig?.metadata === undefined) throw unknown('CreateContainer', podSandboxId, 'sandbox config must include metadata');
      if (s.state !== 'ready') throw unknown('CreateContainer', podSandboxId, `sandbox container "${podSandboxId}" is not running`);
      const image = findImage(config.image.image);
      if (image === undefined) {
        throw new CriError({ method: 'CreateContainer', target: podSandboxId, grpcCode: GrpcCode.NOT_FOUND, details: `failed to resolve image "${config.image.image}": not found` });
      }
      const sm = s.config.metadata;
      const id = newId();
      const name = `${config.metadata.name}_${sm.name}_${sm.namespace}_${sm.uid}_${config.metadata.attempt}`;
      reserve('CreateContainer', 'container', name, id);
      containers.set(id, {
        id,
        podSandboxId,
        config,
        name,
        image,
        createdAtMs: now(),
        state: 'created',
        startedAtMs: 0,
        finishedAtMs: 0,
        exitCode: 0,
        reason: '',
        message: '',
        resources: config.linux?.resources,
      });
      return id;
    },

    async startContainer(containerId) {
      enter('startContainer', containerId);
      const c = getContainer('StartContainer', containerId);
      if (c.state !== 'created') {
        const state = c.state === 'running' ? 'CONTAINER_RUNNING' : 'CONTAINER_EXITED';
        throw unknown('StartContainer', containerId, `failed to set starting state for container "${containerId}": container is in ${state} state`);
      }
      if (startFailure !== undefined) {
        const details = startFailure;
        startFailure = undefined;
        Object.assign(c, { state: 'exited', finishedAtMs: now(), exitCode: 128, reason: 'StartError', message: details });
        throw unknown('StartContainer', containerId, details);
      }
      c.state = 'running';
      c.startedAtMs = now();
    },

    async stopContainer(containerId) {
      enter('stopContainer', containerId);
      kill(getContainer('StopContainer', containerId)); // created and exited containers: no change, no error
    },

    async removeContainer(containerId) {
      enter('removeContainer', containerId);
      const c = containers.get(containerId);
      if (c !== undefined) removeContainerRecord(c); // an unknown id is not an error
    },

    async listContainers(filter?: ContainerFilter) {
      enter('listContainers');
      return [...containers.values()]
        .filter((c) => (!filter?.id || c.id.startsWith(filter.id)) && (!filter?.podSandboxId || c.podSandboxId === filter.podSandboxId))
        .filter((c) => (filter?.state === undefined || c.state === filter.state) && matchesLabels(c.config.labels, filter?.labelSelector))
        .map(containerView);
    },

    async listContainerStates(label: string) {
      enter('listContainerStates');
      return [...containers.values()].map((c) => listed(c.id, c.state, c.config.labels?.[label]));
    },

    async containerStatus(containerId) {
      enter('containerStatus', containerId);
      return statusView(getContainer('ContainerStatus', containerId));
    },

    async updateContainerResources(containerId, resources) {
      enter('updateContainerResources', containerId);
      const c = getContainer('UpdateContainerResources', containerId);
      c.resources = { ...(c.resources ?? {}), ...resources };
    },

    async reopenContainerLog(containerId) {
      enter('reopenContainerLog', containerId);
      const c = getContainer('ReopenContainerLog', containerId);
      if (c.state !== 'running') throw unknown('ReopenContainerLog', containerId, 'container is not running');
    },

    async execSync(containerId, cmd) {
      enter('execSync', containerId);
      const c = getContainer('ExecSync', containerId);
      if (c.state !== 'running') throw unknown('ExecSync', containerId, `container is in ${c.state === 'created' ? 'CONTAINER_CREATED' : 'CONTAINER_EXITED'} state`);
      if (cmd.length === 0) throw unknown('ExecSync', containerId, 'failed to exec in container: no command');
      return execHandler(containerId, cmd);
    },

    async exec(r) {
      enter('exec', r.containerId);
      getContainer('Exec', r.containerId);
      return `http://127.0.0.1:0/exec/${r.containerId}`;
    },

    async attach(r) {
      enter('attach', r.containerId);
      getContainer('Attach', r.containerId);
      return `http://127.0.0.1:0/attach/${r.containerId}`;
    },

    async portForward(podSandboxId) {
      enter('portForward', podSandboxId);
      getSandbox('PortForward', podSandboxId);
      return `http://127.0.0.1:0/portforward/${podSandboxId}`;
    },

    async containerStats(containerId) {
      enter('containerStats', containerId);
      return statsView(getContainer('ContainerStats', containerId));
    },

    async listContainerStats(filter) {
      enter('listContainerStats');
      return [...containers.values()]
        .filter((c) => c.state === 'running')
        .filter((c) => (!filter?.id || c.id.startsWith(filter.id)) && (!filter?.podSandboxId || c.podSandboxId === filter.podSandboxId))
        .filter((c) => matchesLabels(c.config.labels, filter?.labelSelector))
        .map(statsView);
    },

    async updateRuntimeConfig() {
      enter('updateRuntimeConfig');
    },

    async pullImage(image: string | ImageSpec, _o?: { auth?: AuthConfig; sandboxConfig?: PodSandboxConfig }) {
      const ref = refOf(image);
      enter('pullImage', ref);
      if (opts.registry !== undefined && !opts.registry.includes(ref)) {
        throw new CriError({ method: 'PullImage', target: ref, grpcCode: GrpcCode.NOT_FOUND, details: `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": not found` });
      }
      return addImage(ref).id;
    },

    async imageStatus(image) {
      const ref = refOf(image);
      enter('imageStatus', ref);
      const found = findImage(ref);
      return found === undefined ? undefined : { ...found };
    },

    async listImages(filter) {
      enter('listImages');
      const all = [...images.values()];
      if (filter === undefined || refOf(filter) === '') return all.map((i) => ({ ...i }));
      const found = findImage(refOf(filter));
      return found === undefined ? [] : [{ ...found }];
    },

    async removeImage(image) {
      const ref = refOf(image);
      enter('removeImage', ref);
      const found = findImage(ref);
      if (found !== undefined) images.delete(found.id);
    },

    async imageFsInfo(): Promise<FilesystemUsage[]> {
      enter('imageFsInfo');
      const used = [...images.values()].reduce((sum, i) => sum + i.sizeBytes, 0);
      return [{ timestampMs: now(), mountpoint: '/fake/images', usedBytes: used, inodesUsed: images.size }];
    },
  };
  return fake;
}
