// Pure translation between our CRI types (types.ts) and the objects @grpc/proto-loader encodes and
// decodes for proto/runtime/v1/api.proto, loaded with { keepCase: false, longs: String,
// enums: String, defaults: true }: camelCase fields, int64 as decimal strings, enums as their
// CONSTANT_CASE names, absent scalars as defaults, absent messages as null.
// Requests are built as plain objects; responses are read defensively (any field may be missing
// when an older runtime does not know it).

import type {
  Container,
  ContainerConfig,
  ContainerFilter,
  ContainerState,
  ContainerStats,
  ContainerStatsFilter,
  ContainerStatus,
  FilesystemUsage,
  Image,
  ImageSpec,
  Labels,
  LinuxContainerResources,
  LinuxContainerSecurityContext,
  LinuxSandboxSecurityContext,
  Mount,
  MountPropagation,
  NamespaceMode,
  NamespaceOption,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxState,
  PodSandboxStatus,
  Protocol,
  RuntimeStatus,
  SecurityProfile,
  SecurityProfileType,
  VersionInfo,
} from './types.ts';

/** A decoded protobuf message: fields by camelCase name. */
export type Wire = { readonly [field: string]: unknown };

// --- enums -----------------------------------------------------------------------------------

function invert<K extends string, V extends string>(table: Readonly<Record<K, V>>): ReadonlyMap<string, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as string, k as K]));
}

const namespaceModes: Readonly<Record<NamespaceMode, string>> = { pod: 'POD', container: 'CONTAINER', node: 'NODE', target: 'TARGET' };
const namespaceModesBack = invert(namespaceModes);
const containerStates: Readonly<Record<ContainerState, string>> = {
  created: 'CONTAINER_CREATED',
  running: 'CONTAINER_RUNNING',
  exited: 'CONTAINER_EXITED',
  unknown: 'CONTAINER_UNKNOWN',
};
const containerStatesBack = invert(containerStates);
const sandboxStates: Readonly<Record<PodSandboxState, string>> = { ready: 'SANDBOX_READY', notready: 'SANDBOX_NOTREADY' };
const sandboxStatesBack = invert(sandboxStates);
const protocols: Readonly<Record<Protocol, string>> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' };
const propagations: Readonly<Record<MountPropagation, string>> = {
  private: 'PROPAGATION_PRIVATE',
  'host-to-container': 'PROPAGATION_HOST_TO_CONTAINER',
  bidirectional: 'PROPAGATION_BIDIRECTIONAL',
};
const propagationsBack = invert(propagations);
const profileTypes: Readonly<Record<SecurityProfileType, string>> = { 'runtime-default': 'RuntimeDefault', unconfined: 'Unconfined', localhost: 'Localhost' };

// --- reading helpers -------------------------------------------------------------------------

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function bool(v: unknown): boolean {
  return v === true;
}

/** int64/uint64 (a decimal string with longs: String) or int32 as a number; exact up to 2^53. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '') return Number(v);
  if (typeof v === 'bigint') return Number(v);
  return 0;
}

/**
 * Nanoseconds since the epoch (int64, as a decimal string) to fractional milliseconds. Splitting in
 * BigInt first keeps the integer milliseconds exact and the fraction to the nanosecond before the
 * final rounding to a double (about 0.2 µs at today's dates).
 */
export function nsToMs(v: unknown): number {
  if (v === undefined || v === null || v === '' || v === '0' || v === 0) return 0;
  const ns = typeof v === 'bigint' ? v : BigInt(typeof v === 'number' ? Math.trunc(v) : str(v));
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

function msg(v: unknown): Wire | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Wire) : undefined;
}

function list(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

function labels(v: unknown): Labels {
  const m = msg(v);
  if (m === undefined) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(m)) out[k] = str(val);
  return out;
}

/** An Int64Value/UInt64Value wrapper: undefined when absent. */
function wrapped(v: unknown): number | undefined {
  const m = msg(v);
  return m === undefined ? undefined : toNumber(m.value);
}

function enumBack<T extends string>(table: ReadonlyMap<string, T>, v: unknown, fallback: T): T {
  return table.get(str(v)) ?? fallback;
}

// --- requests --------------------------------------------------------------------------------

function imageSpecToWire(image: string | ImageSpec): Wire {
  return typeof image === 'string' ? { image } : { image: image.image, annotations: { ...(image.annotations ?? {}) } };
}

export { imageSpecToWire };

function namespaceOptionToWire(ns: NamespaceOption | undefined): Wire | undefined {
  if (ns === undefined) return undefined;
  return {
    network: namespaceModes[ns.network ?? 'pod'],
    pid: namespaceModes[ns.pid ?? 'pod'],
    ipc: namespaceModes[ns.ipc ?? 'pod'],
    targetId: ns.targetId ?? '',
  };
}

function profileToWire(p: SecurityProfile | undefined): Wire | undefined {
  return p === undefined ? undefined : { profileType: profileTypes[p.type], localhostRef: p.localhostRef ?? '' };
}

function int64Value(v: number | undefined): Wire | undefined {
  return v === undefined ? undefined : { value: v };
}

export function resourcesToWire(r: LinuxContainerResources | undefined): Wire | undefined {
  if (r === undefined) return undefined;
  return {
    cpuPeriod: r.cpuPeriod ?? 0,
    cpuQuota: r.cpuQuota ?? 0,
    cpuShares: r.cpuShares ?? 0,
    memoryLimitInBytes: r.memoryLimitInBytes ?? 0,
    oomScoreAdj: r.oomScoreAdj ?? 0,
    cpusetCpus: r.cpusetCpus ?? '',
    cpusetMems: r.cpusetMems ?? '',
    memorySwapLimitInBytes: r.memorySwapLimitInBytes ?? 0,
    unified: { ...(r.unified ?? {}) },
  };
}

function sandboxSecurityToWire(sc: LinuxSandboxSecurityContext | undefined): Wire | undefined {
  if (sc === undefined) return undefined;
  return {
    namespaceOptions: namespaceOptionToWire(sc.namespaceOptions),
    selinuxOptions: sc.selinuxOptions,
    runAsUser: int64Value(sc.runAsUser),
    runAsGroup: int64Value(sc.runAsGroup),
    readonlyRootfs: sc.readonlyRootfs ?? false,
    supplementalGroups: [...(sc.supplementalGroups ?? [])],
    privileged: sc.privileged ?? false,
    seccomp: profileToWire(sc.seccomp),
    apparmor: profileToWire(sc.apparmor),
  };
}

export function podSandboxConfigToWire(c: PodSandboxConfig): Wire {
  return {
    metadata: { name: c.metadata.name, uid: c.metadata.uid, namespace: c.metadata.namespace, attempt: c.metadata.attempt },
    hostname: c.hostname ?? '',
    logDirectory: c.logDirectory ?? '',
    dnsConfig: c.dnsConfig === undefined ? undefined : {
      servers: [...(c.dnsConfig.servers ?? [])],
      searches: [...(c.dnsConfig.searches ?? [])],
      options: [...(c.dnsConfig.options ?? [])],
    },
    portMappings: (c.portMappings ?? []).map((p) => ({
      protocol: protocols[p.protocol ?? 'tcp'],
      containerPort: p.containerPort,
      hostPort: p.hostPort ?? 0,
      hostIp: p.hostIp ?? '',
    })),
    labels: { ...(c.labels ?? {}) },
    annotations: { ...(c.annotations ?? {}) },
    linux: c.linux === undefined ? undefined : {
      cgroupParent: c.linux.cgroupParent ?? '',
      securityContext: sandboxSecurityToWire(c.linux.securityContext),
      sysctls: { ...(c.linux.sysctls ?? {}) },
      overhead: resourcesToWire(c.linux.overhead),
      resources: resourcesToWire(c.linux.resources),
    },
  };
}

function containerSecurityToWire(sc: LinuxContainerSecurityContext | undefined): Wire | undefined {
  if (sc === undefined) return undefined;
  return {
    capabilities: sc.capabilities === undefined ? undefined : {
      addCapabilities: [...(sc.capabilities.add ?? [])],
      dropCapabilities: [...(sc.capabilities.drop ?? [])],
      addAmbientCapabilities: [...(sc.capabilities.addAmbient ?? [])],
    },
    privileged: sc.privileged ?? false,
    namespaceOptions: namespaceOptionToWire(sc.namespaceOptions),
    selinuxOptions: sc.selinuxOptions,
    runAsUser: int64Value(sc.runAsUser),
    runAsGroup: int64Value(sc.runAsGroup),
    runAsUsername: sc.runAsUsername ?? '',
    readonlyRootfs: sc.readonlyRootfs ?? false,
    supplementalGroups: [...(sc.supplementalGroups ?? [])],
    noNewPrivs: sc.noNewPrivs ?? false,
    maskedPaths: [...(sc.maskedPaths ?? [])],
    readonlyPaths: [...(sc.readonlyPaths ?? [])],
    seccomp: profileToWire(sc.seccomp),
    apparmor: profileToWire(sc.apparmor),
  };
}

function mountToWire(m: Mount): Wire {
  return {
    containerPath: m.containerPath,
    hostPath: m.hostPath,
    readonly: m.readonly ?? false,
    selinuxRelabel: m.selinuxRelabel ?? false,
    propagation: propagations[m.propagation ?? 'private'],
  };
}

export function containerConfigToWire(c: ContainerConfig): Wire {
  return {
    metadata: { name: c.metadata.name, attempt: c.metadata.attempt },
    image: imageSpecToWire(c.image),
    command: [...(c.command ?? [])],
    args: [...(c.args ?? [])],
    workingDir: c.workingDir ?? '',
    envs: (c.envs ?? []).map((e) => ({ key: e.key, value: e.value })),
    mounts: (c.mounts ?? []).map(mountToWire),
    devices: (c.devices ?? []).map((d) => ({ containerPath: d.containerPath, hostPath: d.hostPath, permissions: d.permissions })),
    labels: { ...(c.labels ?? {}) },
    annotations: { ...(c.annotations ?? {}) },
    logPath: c.logPath ?? '',
    stdin: c.stdin ?? false,
    stdinOnce: c.stdinOnce ?? false,
    tty: c.tty ?? false,
    linux: c.linux === undefined ? undefined : {
      resources: resourcesToWire(c.linux.resources),
      securityContext: containerSecurityToWire(c.linux.securityContext),
    },
  };
}

export function podSandboxFilterToWire(f: PodSandboxFilter | undefined): Wire | undefined {
  if (f === undefined) return undefined;
  return {
    id: f.id ?? '',
    state: f.state === undefined ? undefined : { state: sandboxStates[f.state] },
    labelSelector: { ...(f.labelSelector ?? {}) },
  };
}

export function containerFilterToWire(f: ContainerFilter | undefined): Wire | undefined {
  if (f === undefined) return undefined;
  return {
    id: f.id ?? '',
    state: f.state === undefined ? undefined : { state: containerStates[f.state] },
    podSandboxId: f.podSandboxId ?? '',
    labelSelector: { ...(f.labelSelector ?? {}) },
  };
}

export function containerStatsFilterToWire(f: ContainerStatsFilter | undefined): Wire | undefined {
  if (f === undefined) return undefined;
  return { id: f.id ?? '', podSandboxId: f.podSandboxId ?? '', labelSelector: { ...(f.labelSelector ?? {}) } };
}

// --- responses -------------------------------------------------------------------------------

export function versionFromWire(w: Wire): VersionInfo {
  return {
    version: str(w.version),
    runtimeName: str(w.runtimeName),
    runtimeVersion: str(w.runtimeVersion),
    runtimeApiVersion: str(w.runtimeApiVersion),
  };
}

export function statusFromWire(w: Wire): RuntimeStatus {
  const conditions = list(msg(w.status)?.conditions).map((c) => {
    const m = msg(c) ?? {};
    return { type: str(m.type), status: bool(m.status), reason: str(m.reason), message: str(m.message) };
  });
  return { conditions, info: labels(w.info) };
}

function sandboxMetadataFromWire(v: unknown): PodSandbox['metadata'] {
  const m = msg(v) ?? {};
  return { name: str(m.name), uid: str(m.uid), namespace: str(m.namespace), attempt: toNumber(m.attempt) };
}

function containerMetadataFromWire(v: unknown): Container['metadata'] {
  const m = msg(v) ?? {};
  return { name: str(m.name), attempt: toNumber(m.attempt) };
}

export function podSandboxFromWire(w: Wire): PodSandbox {
  return {
    id: str(w.id),
    metadata: sandboxMetadataFromWire(w.metadata),
    state: enumBack(sandboxStatesBack, w.state, 'notready'),
    createdAtMs: nsToMs(w.createdAt),
    labels: labels(w.labels),
    annotations: labels(w.annotations),
    runtimeHandler: str(w.runtimeHandler),
  };
}

function namespaceOptionFromWire(v: unknown): NamespaceOption | undefined {
  const m = msg(v);
  if (m === undefined) return undefined;
  return {
    network: enumBack(namespaceModesBack, m.network, 'pod'),
    pid: enumBack(namespaceModesBack, m.pid, 'pod'),
    ipc: enumBack(namespaceModesBack, m.ipc, 'pod'),
    targetId: str(m.targetId),
  };
}

/** PodSandboxStatusResponse (status + verbose info) to one PodSandboxStatus. */
export function podSandboxStatusFromWire(w: Wire): PodSandboxStatus {
  const s = msg(w.status) ?? {};
  const network = msg(s.network) ?? {};
  return {
    ...podSandboxFromWire(s),
    ip: str(network.ip),
    additionalIps: list(network.additionalIps).map((p) => str(msg(p)?.ip)),
    namespaceOptions: namespaceOptionFromWire(msg(msg(s.linux)?.namespaces)?.options),
    info: labels(w.info),
  };
}

export function containerFromWire(w: Wire): Container {
  return {
    id: str(w.id),
    podSandboxId: str(w.podSandboxId),
    metadata: containerMetadataFromWire(w.metadata),
    image: str(msg(w.image)?.image),
    imageRef: str(w.imageRef),
    state: enumBack(containerStatesBack, w.state, 'unknown'),
    createdAtMs: nsToMs(w.createdAt),
    labels: labels(w.labels),
    annotations: labels(w.annotations),
  };
}

function resourcesFromWire(v: unknown): LinuxContainerResources | undefined {
  const m = msg(v);
  if (m === undefined) return undefined;
  return {
    cpuPeriod: toNumber(m.cpuPeriod),
    cpuQuota: toNumber(m.cpuQuota),
    cpuShares: toNumber(m.cpuShares),
    memoryLimitInBytes: toNumber(m.memoryLimitInBytes),
    oomScoreAdj: toNumber(m.oomScoreAdj),
    cpusetCpus: str(m.cpusetCpus),
    cpusetMems: str(m.cpusetMems),
    memorySwapLimitInBytes: toNumber(m.memorySwapLimitInBytes),
    unified: labels(m.unified),
  };
}

function mountFromWire(v: unknown): Mount {
  const m = msg(v) ?? {};
  return {
    containerPath: str(m.containerPath),
    hostPath: str(m.hostPath),
    readonly: bool(m.readonly),
    selinuxRelabel: bool(m.selinuxRelabel),
    propagation: enumBack(propagationsBack, m.propagation, 'private'),
  };
}

/** ContainerStatusResponse (status + verbose info) to one ContainerStatus. */
export function containerStatusFromWire(w: Wire): ContainerStatus {
  const s = msg(w.status) ?? {};
  return {
    id: str(s.id),
    metadata: containerMetadataFromWire(s.metadata),
    state: enumBack(containerStatesBack, s.state, 'unknown'),
    createdAtMs: nsToMs(s.createdAt),
    startedAtMs: nsToMs(s.startedAt),
    finishedAtMs: nsToMs(s.finishedAt),
    exitCode: toNumber(s.exitCode),
    image: str(msg(s.image)?.image),
    imageRef: str(s.imageRef),
    reason: str(s.reason),
    message: str(s.message),
    labels: labels(s.labels),
    annotations: labels(s.annotations),
    mounts: list(s.mounts).map(mountFromWire),
    logPath: str(s.logPath),
    resources: resourcesFromWire(msg(s.resources)?.linux),
    info: labels(w.info),
  };
}

export function execSyncFromWire(w: Wire): { stdout: Buffer; stderr: Buffer; exitCode: number } {
  const bytes = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v) : Buffer.alloc(0));
  return { stdout: bytes(w.stdout), stderr: bytes(w.stderr), exitCode: toNumber(w.exitCode) };
}

export function filesystemUsageFromWire(v: unknown): FilesystemUsage {
  const m = msg(v) ?? {};
  return {
    timestampMs: nsToMs(m.timestamp),
    mountpoint: str(msg(m.fsId)?.mountpoint),
    usedBytes: wrapped(m.usedBytes),
    inodesUsed: wrapped(m.inodesUsed),
  };
}

export function containerStatsFromWire(v: unknown): ContainerStats {
  const m = msg(v) ?? {};
  const attrs = msg(m.attributes) ?? {};
  const cpu = msg(m.cpu);
  const mem = msg(m.memory);
  return {
    id: str(attrs.id),
    metadata: containerMetadataFromWire(attrs.metadata),
    labels: labels(attrs.labels),
    annotations: labels(attrs.annotations),
    cpu: cpu === undefined ? undefined : {
      timestampMs: nsToMs(cpu.timestamp),
      usageCoreNanoSeconds: wrapped(cpu.usageCoreNanoSeconds),
      usageNanoCores: wrapped(cpu.usageNanoCores),
    },
    memory: mem === undefined ? undefined : {
      timestampMs: nsToMs(mem.timestamp),
      workingSetBytes: wrapped(mem.workingSetBytes),
      availableBytes: wrapped(mem.availableBytes),
      usageBytes: wrapped(mem.usageBytes),
      rssBytes: wrapped(mem.rssBytes),
      pageFaults: wrapped(mem.pageFaults),
      majorPageFaults: wrapped(mem.majorPageFaults),
    },
    writableLayer: msg(m.writableLayer) === undefined ? undefined : filesystemUsageFromWire(m.writableLayer),
  };
}

export function imageFromWire(w: Wire): Image {
  return {
    id: str(w.id),
    repoTags: list(w.repoTags).map(str),
    repoDigests: list(w.repoDigests).map(str),
    sizeBytes: toNumber(w.size),
    uid: wrapped(w.uid),
    username: str(w.username),
    pinned: bool(w.pinned),
  };
}

/** For the callers that need a Wire view of a nested message or list. */
export { msg as wireMessage, list as wireList };
