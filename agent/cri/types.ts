// The CRI as the rest of the agent sees it: our own small types and the two interfaces that
// client.ts (real containerd over gRPC) and fake.ts (in memory) both implement.
// Names follow CRI runtime.v1 in camelCase, with these deliberate differences from the wire:
// - Timestamps are `number` milliseconds since the epoch, fractional (ns / 1e6), 0 when unset.
//   containerd sends int64 nanoseconds, beyond Number precision; converting once here keeps
//   microsecond resolution, compares directly with Date.now() and prints as plain JSON.
//   Durations computed from them may be slightly negative (finished before started): clamp at 0.
// - Enums are lower-case string unions ('running', 'ready', 'node') instead of CONSTANT_CASE.
// - Int64Value wrappers become optional numbers; other int64/uint64 values (sizes, limits) are
//   numbers, exact up to 2^53.

export type Labels = Readonly<Record<string, string>>;

// --- version and status ----------------------------------------------------------------------

export interface VersionInfo {
  readonly version: string;
  readonly runtimeName: string;
  readonly runtimeVersion: string;
  /** "v1" or "v1alpha2": which API answered. */
  readonly runtimeApiVersion: string;
}

export interface RuntimeCondition {
  readonly type: string;
  readonly status: boolean;
  readonly reason: string;
  readonly message: string;
}

export interface RuntimeStatus {
  readonly conditions: readonly RuntimeCondition[];
  /** Free-form JSON strings, only when asked for verbose status. */
  readonly info: Labels;
}

// --- shared ----------------------------------------------------------------------------------

export type NamespaceMode = 'pod' | 'container' | 'node' | 'target';
export type Protocol = 'tcp' | 'udp' | 'sctp';
export type MountPropagation = 'private' | 'host-to-container' | 'bidirectional';
export type SecurityProfileType = 'runtime-default' | 'unconfined' | 'localhost';

export interface NamespaceOption {
  readonly network?: NamespaceMode;
  readonly pid?: NamespaceMode;
  readonly ipc?: NamespaceMode;
  /** Container whose namespaces a 'target' mode joins. */
  readonly targetId?: string;
}

export interface SecurityProfile {
  readonly type: SecurityProfileType;
  /** Only for 'localhost': a seccomp profile path or an AppArmor profile name. */
  readonly localhostRef?: string;
}

export interface SELinuxOption {
  readonly user?: string;
  readonly role?: string;
  readonly type?: string;
  readonly level?: string;
}

export interface LinuxContainerResources {
  readonly cpuPeriod?: number;
  readonly cpuQuota?: number;
  readonly cpuShares?: number;
  readonly memoryLimitInBytes?: number;
  readonly oomScoreAdj?: number;
  readonly cpusetCpus?: string;
  readonly cpusetMems?: string;
  readonly memorySwapLimitInBytes?: number;
  /** cgroup v2 files by name, e.g. "memory.max". */
  readonly unified?: Labels;
}

export interface ImageSpec {
  /** Reference (repo:tag, repo@digest) or image id. */
  readonly image: string;
  readonly annotations?: Labels;
}

// --- pod sandboxes ---------------------------------------------------------------------------

/** containerd reserves the name `<name>_<namespace>_<uid>_<attempt>`; a new sandbox of the same pod needs a new attempt. */
export interface PodSandboxMetadata {
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
  readonly attempt: number;
}

export interface PortMapping {
  readonly protocol?: Protocol;
  readonly containerPort: number;
  readonly hostPort?: number;
  readonly hostIp?: string;
}

export interface DnsConfig {
  readonly servers?: readonly string[];
  readonly searches?: readonly string[];
  readonly options?: readonly string[];
}

export interface LinuxSandboxSecurityContext {
  readonly namespaceOptions?: NamespaceOption;
  readonly selinuxOptions?: SELinuxOption;
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly readonlyRootfs?: boolean;
  readonly supplementalGroups?: readonly number[];
  readonly privileged?: boolean;
  readonly seccomp?: SecurityProfile;
  readonly apparmor?: SecurityProfile;
}

export interface LinuxPodSandboxConfig {
  /** cgroupfs syntax, e.g. /moor/pod<uid>; nobody removes it after the sandbox: the agent must. */
  readonly cgroupParent?: string;
  readonly securityContext?: LinuxSandboxSecurityContext;
  readonly sysctls?: Labels;
  readonly overhead?: LinuxContainerResources;
  readonly resources?: LinuxContainerResources;
}

export interface PodSandboxConfig {
  readonly metadata: PodSandboxMetadata;
  /** Must be empty (or absent) for pods in the node's network namespace. */
  readonly hostname?: string;
  /** Absolute; container log paths are relative to it. */
  readonly logDirectory?: string;
  readonly dnsConfig?: DnsConfig;
  readonly portMappings?: readonly PortMapping[];
  readonly labels?: Labels;
  readonly annotations?: Labels;
  readonly linux?: LinuxPodSandboxConfig;
}

export type PodSandboxState = 'ready' | 'notready';

export interface PodSandbox {
  readonly id: string;
  readonly metadata: PodSandboxMetadata;
  readonly state: PodSandboxState;
  readonly createdAtMs: number;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly runtimeHandler: string;
}

export interface PodSandboxStatus extends PodSandbox {
  /** Primary pod IP; '' for pods on the node's network and after StopPodSandbox. */
  readonly ip: string;
  readonly additionalIps: readonly string[];
  readonly namespaceOptions?: NamespaceOption;
  /** Free-form JSON strings, only when asked for verbose status. */
  readonly info: Labels;
}

export interface PodSandboxFilter {
  readonly id?: string;
  readonly state?: PodSandboxState;
  readonly labelSelector?: Labels;
}

// --- containers ------------------------------------------------------------------------------

/** (name, attempt) is unique within a sandbox for its whole life. */
export interface ContainerMetadata {
  readonly name: string;
  readonly attempt: number;
}

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface Mount {
  readonly containerPath: string;
  readonly hostPath: string;
  readonly readonly?: boolean;
  readonly selinuxRelabel?: boolean;
  readonly propagation?: MountPropagation;
}

export interface Device {
  readonly containerPath: string;
  readonly hostPath: string;
  /** Some of "r", "w", "m". */
  readonly permissions: string;
}

export interface Capability {
  readonly add?: readonly string[];
  readonly drop?: readonly string[];
  readonly addAmbient?: readonly string[];
}

export interface LinuxContainerSecurityContext {
  readonly capabilities?: Capability;
  readonly privileged?: boolean;
  readonly namespaceOptions?: NamespaceOption;
  readonly selinuxOptions?: SELinuxOption;
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsUsername?: string;
  readonly readonlyRootfs?: boolean;
  readonly supplementalGroups?: readonly number[];
  readonly noNewPrivs?: boolean;
  readonly maskedPaths?: readonly string[];
  readonly readonlyPaths?: readonly string[];
  readonly seccomp?: SecurityProfile;
  readonly apparmor?: SecurityProfile;
}

export interface ContainerConfig {
  readonly metadata: ContainerMetadata;
  /** The image must already be present: CreateContainer never pulls. */
  readonly image: ImageSpec;
  /** Replaces the image's Entrypoint; empty keeps it. */
  readonly command?: readonly string[];
  /** Replaces the image's Cmd; empty keeps it. */
  readonly args?: readonly string[];
  readonly workingDir?: string;
  /** In order: later entries may refer to earlier ones. */
  readonly envs?: readonly KeyValue[];
  readonly mounts?: readonly Mount[];
  readonly devices?: readonly Device[];
  readonly labels?: Labels;
  readonly annotations?: Labels;
  /** Relative to the sandbox's logDirectory; empty or absent means no log file. */
  readonly logPath?: string;
  readonly stdin?: boolean;
  readonly stdinOnce?: boolean;
  readonly tty?: boolean;
  readonly linux?: {
    readonly resources?: LinuxContainerResources;
    readonly securityContext?: LinuxContainerSecurityContext;
  };
}

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

/** A listed sandbox or container as the relist sees it; `label` is absent when the item lacks the label asked for. */
export interface ListedState<S extends string> {
  readonly id: string;
  readonly state: S;
  readonly label?: string;
}

export interface Container {
  readonly id: string;
  readonly podSandboxId: string;
  readonly metadata: ContainerMetadata;
  /** What CreateContainer received (id, tag or digest). */
  readonly image: string;
  /** In containerd 1.6 the image id (sha256:<config digest>). */
  readonly imageRef: string;
  readonly state: ContainerState;
  readonly createdAtMs: number;
  readonly labels: Labels;
  readonly annotations: Labels;
}

export interface ContainerStatus {
  readonly id: string;
  readonly metadata: ContainerMetadata;
  readonly state: ContainerState;
  readonly createdAtMs: number;
  /** 0 until started (stays 0 after a StartError). */
  readonly startedAtMs: number;
  /** 0 until finished; may precede startedAtMs by about a millisecond for fast exits. */
  readonly finishedAtMs: number;
  /** Meaningful once finishedAtMs is set. */
  readonly exitCode: number;
  /** containerd 1.6: the first repo tag. */
  readonly image: string;
  /** containerd 1.6: the repo digest (<repo>@sha256:<manifest digest>). */
  readonly imageRef: string;
  /** Completed, Error, OOMKilled, StartError, or ''. */
  readonly reason: string;
  readonly message: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly mounts: readonly Mount[];
  /** Absolute log file path, '' when the container has none. */
  readonly logPath: string;
  readonly resources?: LinuxContainerResources;
  /** Free-form JSON strings, only when asked for verbose status. */
  readonly info: Labels;
}

export interface ContainerFilter {
  readonly id?: string;
  readonly state?: ContainerState;
  readonly podSandboxId?: string;
  readonly labelSelector?: Labels;
}

export interface ExecSyncResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** A non-zero exit is a normal result, not an error. */
  readonly exitCode: number;
}

export interface StreamRequest {
  readonly containerId: string;
  readonly cmd: readonly string[];
  readonly tty?: boolean;
  readonly stdin?: boolean;
  readonly stdout?: boolean;
  readonly stderr?: boolean;
}

export interface AttachRequest {
  readonly containerId: string;
  readonly tty?: boolean;
  readonly stdin?: boolean;
  readonly stdout?: boolean;
  readonly stderr?: boolean;
}

// --- stats -----------------------------------------------------------------------------------

export interface ContainerStats {
  readonly id: string;
  readonly metadata: ContainerMetadata;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly cpu?: { readonly timestampMs: number; readonly usageCoreNanoSeconds?: number; readonly usageNanoCores?: number };
  readonly memory?: {
    readonly timestampMs: number;
    readonly workingSetBytes?: number;
    readonly availableBytes?: number;
    readonly usageBytes?: number;
    readonly rssBytes?: number;
    readonly pageFaults?: number;
    readonly majorPageFaults?: number;
  };
  readonly writableLayer?: FilesystemUsage;
}

export interface ContainerStatsFilter {
  readonly id?: string;
  readonly podSandboxId?: string;
  readonly labelSelector?: Labels;
}

// --- images ----------------------------------------------------------------------------------

export interface Image {
  /** The image id; the same value PullImage returns. */
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly sizeBytes: number;
  /** Only when the image's USER is numeric. */
  readonly uid?: number;
  readonly username: string;
  readonly pinned: boolean;
}

export interface AuthConfig {
  readonly username?: string;
  readonly password?: string;
  readonly auth?: string;
  readonly serverAddress?: string;
  readonly identityToken?: string;
  readonly registryToken?: string;
}

export interface FilesystemUsage {
  readonly timestampMs: number;
  readonly mountpoint: string;
  readonly usedBytes?: number;
  readonly inodesUsed?: number;
}

// --- the two services ------------------------------------------------------------------------

/** RuntimeService: one method per RPC. Unknown ids fail with a CriError of kind 'notFound'. */
export interface CriRuntime {
  version(): Promise<VersionInfo>;
  status(opts?: { verbose?: boolean }): Promise<RuntimeStatus>;

  /** Returns the sandbox id. A sandbox that fails half-way is left NOTREADY for the caller to remove. */
  runPodSandbox(config: PodSandboxConfig, opts?: { runtimeHandler?: string }): Promise<string>;
  /** NOT_FOUND for an unknown id (containerd 1.6), unlike removePodSandbox. */
  stopPodSandbox(podSandboxId: string): Promise<void>;
  /** Succeeds for an unknown id; stops a ready sandbox first. */
  removePodSandbox(podSandboxId: string): Promise<void>;
  podSandboxStatus(podSandboxId: string, opts?: { verbose?: boolean }): Promise<PodSandboxStatus>;
  listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]>;
  /** ListPodSandbox, unfiltered, read down to each sandbox's id, state and the value of `label` (the relist's view, cheap to decode). */
  listPodSandboxStates(label: string): Promise<ListedState<PodSandboxState>[]>;

  /** Returns the container id. `sandboxConfig` is the config the sandbox was started with. */
  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string>;
  startContainer(containerId: string): Promise<void>;
  /** SIGTERM (or the image's stop signal), SIGKILL after `timeoutSeconds`; 0 kills at once. */
  stopContainer(containerId: string, timeoutSeconds: number): Promise<void>;
  removeContainer(containerId: string): Promise<void>;
  listContainers(filter?: ContainerFilter): Promise<Container[]>;
  /** ListContainers, unfiltered, read down to each container's id, state and the value of `label`. */
  listContainerStates(label: string): Promise<ListedState<ContainerState>[]>;
  containerStatus(containerId: string, opts?: { verbose?: boolean }): Promise<ContainerStatus>;
  updateContainerResources(containerId: string, resources: LinuxContainerResources): Promise<void>;
  reopenContainerLog(containerId: string): Promise<void>;

  /** `timeoutSeconds` 0 means no limit on the command; the call is then bounded by the client's timeout. */
  execSync(containerId: string, cmd: readonly string[], timeoutSeconds: number): Promise<ExecSyncResult>;
  /** Returns the streaming server URL for the session. */
  exec(request: StreamRequest): Promise<string>;
  attach(request: AttachRequest): Promise<string>;
  portForward(podSandboxId: string, ports: readonly number[]): Promise<string>;

  containerStats(containerId: string): Promise<ContainerStats>;
  listContainerStats(filter?: ContainerStatsFilter): Promise<ContainerStats[]>;

  /** Tells the runtime the node's pod CIDR. */
  updateRuntimeConfig(podCidr: string): Promise<void>;
}

/** ImageService: one method per RPC. Pull only fully qualified references, never image ids. */
export interface CriImages {
  /** Returns the image ref (in containerd: the image id). */
  pullImage(image: string | ImageSpec, opts?: { auth?: AuthConfig; sandboxConfig?: PodSandboxConfig }): Promise<string>;
  /** undefined when the image is not present (not an error). */
  imageStatus(image: string | ImageSpec): Promise<Image | undefined>;
  /** With a filter: the images matching that reference, id or digest (filtered here too: containerd 1.6 ignores it). */
  listImages(filter?: string | ImageSpec): Promise<Image[]>;
  /** Succeeds when the image is already gone. */
  removeImage(image: string | ImageSpec): Promise<void>;
  imageFsInfo(): Promise<FilesystemUsage[]>;
}

/** What createCriClient returns. */
export interface CriClient extends CriRuntime, CriImages {
  /** The endpoint as given, e.g. unix:///run/containerd/containerd.sock. */
  readonly endpoint: string;
  /** Close the channel; later calls fail. */
  close(): void;
}
