// The CRI configurations of a pod's sandbox and containers, built from the v1 spec the way the
// kubelet builds them (generatePodSandboxConfig, generateContainerConfig). Pure: everything that
// needs the host (volume paths, the pod IP, node facts) comes in as data.

import type { ContainerConfig, DnsConfig, KeyValue, LinuxContainerSecurityContext, Mount, NamespaceOption, PodSandboxConfig, PortMapping } from '../cri/types.ts';
import { expandCommand } from './env.ts';
import { buildContainerAnnotations, buildContainerLabels, buildSandboxAnnotations, buildSandboxLabels } from './labels.ts';
import { buildLinuxResources, podCgroupParent } from './resources.ts';
import type { Container, Pod, QosClass } from './types.ts';

/** `<podLogsDir>/<namespace>_<name>_<uid>`, the kubelet's pod log directory. */
export function podLogDirectory(podLogsDir: string, pod: Pick<Pod, 'metadata'>): string {
  return `${podLogsDir.replace(/\/+$/, '')}/${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`;
}

/** `<container>/<restartCount>.log`, relative to the pod log directory. */
export function containerLogPath(containerName: string, restartCount: number): string {
  return `${containerName}/${restartCount}.log`;
}

/** Host resolv.conf text -> servers, searches, options. */
export function parseResolvConf(text: string): Required<DnsConfig> {
  const servers: string[] = [];
  const searches: string[] = [];
  const options: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) servers.push(rest[0]);
    else if (key === 'search') searches.splice(0, searches.length, ...rest);
    else if (key === 'domain' && rest[0] && searches.length === 0) searches.push(rest[0]);
    else if (key === 'options') options.push(...rest);
  }
  return { servers, searches, options };
}

/**
 * The sandbox's DNS: with dnsPolicy None, exactly spec.dnsConfig; otherwise the node's resolv.conf
 * (undefined lets containerd copy it) merged with spec.dnsConfig when one is given. Without a
 * cluster DNS, ClusterFirst behaves like Default, as the kubelet does when it has no clusterDNS.
 */
export function buildDnsConfig(pod: Pod, hostResolvConf: string): DnsConfig | undefined {
  const extra = pod.spec.dnsConfig;
  const extraOptions = (extra?.options ?? []).map((o) => (o.value === undefined ? o.name : `${o.name}:${o.value}`));
  if (pod.spec.dnsPolicy === 'None') {
    return { servers: extra?.nameservers ?? [], searches: extra?.searches ?? [], options: extraOptions };
  }
  if (extra === undefined) return undefined;
  const host = parseResolvConf(hostResolvConf);
  const uniq = (xs: string[]): string[] => [...new Set(xs)];
  const optionNames = new Set(extraOptions.map((o) => o.split(':')[0]));
  return {
    servers: uniq([...host.servers, ...(extra.nameservers ?? [])]).slice(0, 3),
    searches: uniq([...host.searches, ...(extra.searches ?? [])]).slice(0, 32),
    options: [...host.options.filter((o) => !optionNames.has(o.split(':')[0])), ...extraOptions],
  };
}

function namespaceOptions(pod: Pod): NamespaceOption {
  return {
    network: pod.spec.hostNetwork ? 'node' : 'pod',
    pid: pod.spec.hostPID ? 'node' : 'container',
    ipc: pod.spec.hostIPC ? 'node' : 'pod',
  };
}

function portMappings(pod: Pod): PortMapping[] {
  return pod.spec.containers.flatMap((c) =>
    (c.ports ?? []).filter((p) => p.hostPort !== undefined && p.hostPort > 0).map((p) => ({
      protocol: p.protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp',
      containerPort: p.containerPort,
      hostPort: p.hostPort,
      ...(p.hostIP ? { hostIp: p.hostIP } : {}),
    })),
  );
}

export interface SandboxConfigOptions {
  readonly attempt: number;
  readonly podLogsDir: string;
  readonly cgroupRoot: string;
  readonly qos: QosClass;
  readonly sandboxHash: string;
  readonly hostResolvConf: string;
}

export function buildSandboxConfig(pod: Pod, o: SandboxConfigOptions): PodSandboxConfig {
  const sc = pod.spec.securityContext ?? {};
  const privileged = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].some((c) => c.securityContext?.privileged === true);
  const dns = buildDnsConfig(pod, o.hostResolvConf);
  const ports = portMappings(pod);
  const sysctls = Object.fromEntries((sc.sysctls ?? []).map((s) => [s.name, s.value]));
  return {
    metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid, attempt: o.attempt },
    // A pod on the node's network must send no hostname (runc cannot set one without its own UTS namespace).
    hostname: pod.spec.hostNetwork ? '' : (pod.spec.hostname ?? pod.metadata.name).slice(0, 63).replace(/[-.]+$/, ''),
    logDirectory: podLogDirectory(o.podLogsDir, pod),
    ...(dns !== undefined ? { dnsConfig: dns } : {}),
    ...(ports.length > 0 ? { portMappings: ports } : {}),
    labels: buildSandboxLabels(pod),
    annotations: buildSandboxAnnotations(pod, o.sandboxHash),
    linux: {
      cgroupParent: podCgroupParent({ cgroupRoot: o.cgroupRoot, qos: o.qos, podUid: pod.metadata.uid }),
      securityContext: {
        namespaceOptions: namespaceOptions(pod),
        ...(sc.runAsUser !== undefined ? { runAsUser: sc.runAsUser } : {}),
        ...(sc.runAsGroup !== undefined ? { runAsGroup: sc.runAsGroup } : {}),
        ...(sc.supplementalGroups !== undefined ? { supplementalGroups: sc.supplementalGroups } : {}),
        privileged,
      },
      ...(Object.keys(sysctls).length > 0 ? { sysctls } : {}),
    },
  };
}

function containerSecurityContext(pod: Pod, c: Container): LinuxContainerSecurityContext {
  const psc = pod.spec.securityContext ?? {};
  const csc = c.securityContext ?? {};
  const runAsUser = csc.runAsUser ?? psc.runAsUser;
  const runAsGroup = csc.runAsGroup ?? psc.runAsGroup;
  const groups = [...(psc.supplementalGroups ?? []), ...(psc.fsGroup !== undefined ? [psc.fsGroup] : [])];
  return {
    namespaceOptions: namespaceOptions(pod),
    ...(runAsUser !== undefined ? { runAsUser } : {}),
    ...(runAsGroup !== undefined ? { runAsGroup } : {}),
    ...(groups.length > 0 ? { supplementalGroups: groups } : {}),
    ...(csc.privileged !== undefined ? { privileged: csc.privileged } : {}),
    ...(csc.readOnlyRootFilesystem !== undefined ? { readonlyRootfs: csc.readOnlyRootFilesystem } : {}),
    ...(csc.allowPrivilegeEscalation === false ? { noNewPrivs: true } : {}),
    ...(csc.capabilities !== undefined ? { capabilities: { add: csc.capabilities.add ?? [], drop: csc.capabilities.drop ?? [] } } : {}),
  };
}

export interface ContainerConfigOptions {
  readonly restartCount: number;
  readonly init: boolean;
  readonly env: readonly KeyValue[];
  /** Mounts resolved to host paths (volumes, the managed /etc/hosts). */
  readonly mounts: readonly Mount[];
  readonly qos: QosClass;
  readonly nodeMemoryBytes: number;
}

export function buildContainerConfig(pod: Pod, c: Container, o: ContainerConfigOptions): ContainerConfig {
  const { command, args } = expandCommand(c, o.env);
  return {
    metadata: { name: c.name, attempt: o.restartCount },
    image: { image: c.image },
    ...(command !== undefined ? { command } : {}),
    ...(args !== undefined ? { args } : {}),
    ...(c.workingDir !== undefined ? { workingDir: c.workingDir } : {}),
    envs: o.env,
    mounts: o.mounts,
    labels: buildContainerLabels(pod, c, o.init),
    annotations: buildContainerAnnotations(pod, c, o.restartCount),
    logPath: containerLogPath(c.name, o.restartCount),
    ...(c.stdin ? { stdin: true } : {}),
    ...(c.stdinOnce ? { stdinOnce: true } : {}),
    ...(c.tty ? { tty: true } : {}),
    linux: {
      resources: buildLinuxResources({ container: c, qos: o.qos, nodeMemoryBytes: o.nodeMemoryBytes }),
      securityContext: containerSecurityContext(pod, c),
    },
  };
}

/** Volume mounts of a container resolved against the pod's volume host paths. */
export function buildVolumeMounts(c: Container, volumePaths: ReadonlyMap<string, string>): Mount[] {
  return (c.volumeMounts ?? []).map((m) => {
    const base = volumePaths.get(m.name);
    if (base === undefined) throw new Error(`mount volume ${m.name} in container ${c.name}: volume not prepared`);
    return {
      containerPath: m.mountPath,
      hostPath: m.subPath ? `${base}/${m.subPath}` : base,
      readonly: m.readOnly ?? false,
    };
  });
}

/** The kubelet's managed hosts file content for a pod on its own network. */
export function buildHostsFile(opts: { podIp: string; hostname: string; subdomain?: string; namespace: string }): string {
  const lines = [
    '# Moor-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  if (opts.podIp !== '') lines.push(`${opts.podIp}\t${opts.hostname}`);
  return lines.join('\n') + '\n';
}
