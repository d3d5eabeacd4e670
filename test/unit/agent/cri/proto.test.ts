// proto/runtime/v1/api.proto must stay wire-compatible with upstream CRI runtime.v1: these tables
// hold the upstream package, method paths, field names, numbers and types that Moor relies on,
// checked against k8s.io/cri-api pkg/apis/runtime/v1/api.proto. A typo in the proto fails here.
import t from 'tap';
import * as protoLoader from '@grpc/proto-loader';
import { findProtoPath } from '../../../../agent/cri/client.ts';

interface FieldDescriptor {
  name: string;
  number: number;
  type: string;
  label: string;
  typeName: string;
}
interface MessageDefinition {
  type: { field: FieldDescriptor[] };
}
interface EnumDefinition {
  type: { value: { name: string; number: number }[] };
}

// keepCase: names exactly as written in the .proto, so they compare with upstream's.
const definition = protoLoader.loadSync(findProtoPath(), { keepCase: true });

function field(message: string, name: string): FieldDescriptor | undefined {
  const def = definition[`runtime.v1.${message}`] as unknown as MessageDefinition | undefined;
  return def?.type.field.find((f) => f.name === name);
}

// [message, field, number, wire type]; wire type also catches int32/int64 and repeated/map mixups.
const fields: [string, string, number, string][] = [
  ['VersionRequest', 'version', 1, 'TYPE_STRING'],
  ['VersionResponse', 'runtime_name', 2, 'TYPE_STRING'],
  ['VersionResponse', 'runtime_version', 3, 'TYPE_STRING'],
  ['VersionResponse', 'runtime_api_version', 4, 'TYPE_STRING'],
  ['StatusRequest', 'verbose', 1, 'TYPE_BOOL'],
  ['StatusResponse', 'status', 1, 'TYPE_MESSAGE'],
  ['StatusResponse', 'info', 2, 'TYPE_MESSAGE'],
  ['RuntimeStatus', 'conditions', 1, 'TYPE_MESSAGE'],
  ['RuntimeCondition', 'type', 1, 'TYPE_STRING'],
  ['RuntimeCondition', 'status', 2, 'TYPE_BOOL'],
  ['RuntimeCondition', 'reason', 3, 'TYPE_STRING'],
  ['RuntimeCondition', 'message', 4, 'TYPE_STRING'],
  // sandbox identity and config
  ['PodSandboxMetadata', 'name', 1, 'TYPE_STRING'],
  ['PodSandboxMetadata', 'uid', 2, 'TYPE_STRING'],
  ['PodSandboxMetadata', 'namespace', 3, 'TYPE_STRING'],
  ['PodSandboxMetadata', 'attempt', 4, 'TYPE_UINT32'],
  ['PodSandboxConfig', 'metadata', 1, 'TYPE_MESSAGE'],
  ['PodSandboxConfig', 'hostname', 2, 'TYPE_STRING'],
  ['PodSandboxConfig', 'log_directory', 3, 'TYPE_STRING'],
  ['PodSandboxConfig', 'dns_config', 4, 'TYPE_MESSAGE'],
  ['PodSandboxConfig', 'port_mappings', 5, 'TYPE_MESSAGE'],
  ['PodSandboxConfig', 'labels', 6, 'TYPE_MESSAGE'],
  ['PodSandboxConfig', 'annotations', 7, 'TYPE_MESSAGE'],
  ['PodSandboxConfig', 'linux', 8, 'TYPE_MESSAGE'],
  ['DNSConfig', 'servers', 1, 'TYPE_STRING'],
  ['DNSConfig', 'searches', 2, 'TYPE_STRING'],
  ['DNSConfig', 'options', 3, 'TYPE_STRING'],
  ['PortMapping', 'protocol', 1, 'TYPE_ENUM'],
  ['PortMapping', 'container_port', 2, 'TYPE_INT32'],
  ['PortMapping', 'host_port', 3, 'TYPE_INT32'],
  ['PortMapping', 'host_ip', 4, 'TYPE_STRING'],
  ['LinuxPodSandboxConfig', 'cgroup_parent', 1, 'TYPE_STRING'],
  ['LinuxPodSandboxConfig', 'security_context', 2, 'TYPE_MESSAGE'],
  ['LinuxPodSandboxConfig', 'sysctls', 3, 'TYPE_MESSAGE'],
  ['LinuxPodSandboxConfig', 'overhead', 4, 'TYPE_MESSAGE'],
  ['LinuxPodSandboxConfig', 'resources', 5, 'TYPE_MESSAGE'],
  ['LinuxSandboxSecurityContext', 'namespace_options', 1, 'TYPE_MESSAGE'],
  ['LinuxSandboxSecurityContext', 'selinux_options', 2, 'TYPE_MESSAGE'],
  ['LinuxSandboxSecurityContext', 'run_as_user', 3, 'TYPE_MESSAGE'],
  ['LinuxSandboxSecurityContext', 'readonly_rootfs', 4, 'TYPE_BOOL'],
  ['LinuxSandboxSecurityContext', 'supplemental_groups', 5, 'TYPE_INT64'],
  ['LinuxSandboxSecurityContext', 'privileged', 6, 'TYPE_BOOL'],
  ['LinuxSandboxSecurityContext', 'run_as_group', 8, 'TYPE_MESSAGE'],
  ['LinuxSandboxSecurityContext', 'seccomp', 9, 'TYPE_MESSAGE'],
  ['LinuxSandboxSecurityContext', 'apparmor', 10, 'TYPE_MESSAGE'],
  ['NamespaceOption', 'network', 1, 'TYPE_ENUM'],
  ['NamespaceOption', 'pid', 2, 'TYPE_ENUM'],
  ['NamespaceOption', 'ipc', 3, 'TYPE_ENUM'],
  ['NamespaceOption', 'target_id', 4, 'TYPE_STRING'],
  ['Int64Value', 'value', 1, 'TYPE_INT64'],
  ['UInt64Value', 'value', 1, 'TYPE_UINT64'],
  ['SecurityProfile', 'profile_type', 1, 'TYPE_ENUM'],
  ['SecurityProfile', 'localhost_ref', 2, 'TYPE_STRING'],
  ['RunPodSandboxRequest', 'config', 1, 'TYPE_MESSAGE'],
  ['RunPodSandboxRequest', 'runtime_handler', 2, 'TYPE_STRING'],
  ['RunPodSandboxResponse', 'pod_sandbox_id', 1, 'TYPE_STRING'],
  ['StopPodSandboxRequest', 'pod_sandbox_id', 1, 'TYPE_STRING'],
  ['RemovePodSandboxRequest', 'pod_sandbox_id', 1, 'TYPE_STRING'],
  ['PodSandboxStatusRequest', 'pod_sandbox_id', 1, 'TYPE_STRING'],
  ['PodSandboxStatusRequest', 'verbose', 2, 'TYPE_BOOL'],
  // sandbox status and listing
  ['PodSandboxStatusResponse', 'status', 1, 'TYPE_MESSAGE'],
  ['PodSandboxStatusResponse', 'info', 2, 'TYPE_MESSAGE'],
  ['PodSandboxStatus', 'id', 1, 'TYPE_STRING'],
  ['PodSandboxStatus', 'metadata', 2, 'TYPE_MESSAGE'],
  ['PodSandboxStatus', 'state', 3, 'TYPE_ENUM'],
  ['PodSandboxStatus', 'created_at', 4, 'TYPE_INT64'],
  ['PodSandboxStatus', 'network', 5, 'TYPE_MESSAGE'],
  ['PodSandboxStatus', 'linux', 6, 'TYPE_MESSAGE'],
  ['PodSandboxStatus', 'labels', 7, 'TYPE_MESSAGE'],
  ['PodSandboxStatus', 'annotations', 8, 'TYPE_MESSAGE'],
  ['PodSandboxStatus', 'runtime_handler', 9, 'TYPE_STRING'],
  ['PodSandboxNetworkStatus', 'ip', 1, 'TYPE_STRING'],
  ['PodSandboxNetworkStatus', 'additional_ips', 2, 'TYPE_MESSAGE'],
  ['PodIP', 'ip', 1, 'TYPE_STRING'],
  ['LinuxPodSandboxStatus', 'namespaces', 1, 'TYPE_MESSAGE'],
  ['Namespace', 'options', 2, 'TYPE_MESSAGE'],
  ['PodSandboxFilter', 'id', 1, 'TYPE_STRING'],
  ['PodSandboxFilter', 'state', 2, 'TYPE_MESSAGE'],
  ['PodSandboxFilter', 'label_selector', 3, 'TYPE_MESSAGE'],
  ['ListPodSandboxRequest', 'filter', 1, 'TYPE_MESSAGE'],
  ['ListPodSandboxResponse', 'items', 1, 'TYPE_MESSAGE'],
  ['PodSandbox', 'id', 1, 'TYPE_STRING'],
  ['PodSandbox', 'metadata', 2, 'TYPE_MESSAGE'],
  ['PodSandbox', 'state', 3, 'TYPE_ENUM'],
  ['PodSandbox', 'created_at', 4, 'TYPE_INT64'],
  ['PodSandbox', 'labels', 5, 'TYPE_MESSAGE'],
  ['PodSandbox', 'annotations', 6, 'TYPE_MESSAGE'],
  // container config
  ['ContainerMetadata', 'name', 1, 'TYPE_STRING'],
  ['ContainerMetadata', 'attempt', 2, 'TYPE_UINT32'],
  ['ContainerConfig', 'metadata', 1, 'TYPE_MESSAGE'],
  ['ContainerConfig', 'image', 2, 'TYPE_MESSAGE'],
  ['ContainerConfig', 'command', 3, 'TYPE_STRING'],
  ['ContainerConfig', 'args', 4, 'TYPE_STRING'],
  ['ContainerConfig', 'working_dir', 5, 'TYPE_STRING'],
  ['ContainerConfig', 'envs', 6, 'TYPE_MESSAGE'],
  ['ContainerConfig', 'mounts', 7, 'TYPE_MESSAGE'],
  ['ContainerConfig', 'devices', 8, 'TYPE_MESSAGE'],
  ['ContainerConfig', 'labels', 9, 'TYPE_MESSAGE'],
  ['ContainerConfig', 'annotations', 10, 'TYPE_MESSAGE'],
  ['ContainerConfig', 'log_path', 11, 'TYPE_STRING'],
  ['ContainerConfig', 'stdin', 12, 'TYPE_BOOL'],
  ['ContainerConfig', 'stdin_once', 13, 'TYPE_BOOL'],
  ['ContainerConfig', 'tty', 14, 'TYPE_BOOL'],
  ['ContainerConfig', 'linux', 15, 'TYPE_MESSAGE'],
  ['KeyValue', 'key', 1, 'TYPE_STRING'],
  ['KeyValue', 'value', 2, 'TYPE_STRING'],
  ['Mount', 'container_path', 1, 'TYPE_STRING'],
  ['Mount', 'host_path', 2, 'TYPE_STRING'],
  ['Mount', 'readonly', 3, 'TYPE_BOOL'],
  ['Mount', 'selinux_relabel', 4, 'TYPE_BOOL'],
  ['Mount', 'propagation', 5, 'TYPE_ENUM'],
  ['Device', 'container_path', 1, 'TYPE_STRING'],
  ['Device', 'host_path', 2, 'TYPE_STRING'],
  ['Device', 'permissions', 3, 'TYPE_STRING'],
  ['LinuxContainerConfig', 'resources', 1, 'TYPE_MESSAGE'],
  ['LinuxContainerConfig', 'security_context', 2, 'TYPE_MESSAGE'],
  ['LinuxContainerResources', 'cpu_period', 1, 'TYPE_INT64'],
  ['LinuxContainerResources', 'cpu_quota', 2, 'TYPE_INT64'],
  ['LinuxContainerResources', 'cpu_shares', 3, 'TYPE_INT64'],
  ['LinuxContainerResources', 'memory_limit_in_bytes', 4, 'TYPE_INT64'],
  ['LinuxContainerResources', 'oom_score_adj', 5, 'TYPE_INT64'],
  ['LinuxContainerResources', 'cpuset_cpus', 6, 'TYPE_STRING'],
  ['LinuxContainerResources', 'cpuset_mems', 7, 'TYPE_STRING'],
  ['LinuxContainerResources', 'unified', 9, 'TYPE_MESSAGE'],
  ['LinuxContainerResources', 'memory_swap_limit_in_bytes', 10, 'TYPE_INT64'],
  ['LinuxContainerSecurityContext', 'capabilities', 1, 'TYPE_MESSAGE'],
  ['LinuxContainerSecurityContext', 'privileged', 2, 'TYPE_BOOL'],
  ['LinuxContainerSecurityContext', 'namespace_options', 3, 'TYPE_MESSAGE'],
  ['LinuxContainerSecurityContext', 'selinux_options', 4, 'TYPE_MESSAGE'],
  ['LinuxContainerSecurityContext', 'run_as_user', 5, 'TYPE_MESSAGE'],
  ['LinuxContainerSecurityContext', 'run_as_username', 6, 'TYPE_STRING'],
  ['LinuxContainerSecurityContext', 'readonly_rootfs', 7, 'TYPE_BOOL'],
  ['LinuxContainerSecurityContext', 'supplemental_groups', 8, 'TYPE_INT64'],
  ['LinuxContainerSecurityContext', 'no_new_privs', 11, 'TYPE_BOOL'],
  ['LinuxContainerSecurityContext', 'run_as_group', 12, 'TYPE_MESSAGE'],
  ['LinuxContainerSecurityContext', 'masked_paths', 13, 'TYPE_STRING'],
  ['LinuxContainerSecurityContext', 'readonly_paths', 14, 'TYPE_STRING'],
  ['LinuxContainerSecurityContext', 'seccomp', 15, 'TYPE_MESSAGE'],
  ['LinuxContainerSecurityContext', 'apparmor', 16, 'TYPE_MESSAGE'],
  ['Capability', 'add_capabilities', 1, 'TYPE_STRING'],
  ['Capability', 'drop_capabilities', 2, 'TYPE_STRING'],
  ['CreateContainerRequest', 'pod_sandbox_id', 1, 'TYPE_STRING'],
  ['CreateContainerRequest', 'config', 2, 'TYPE_MESSAGE'],
  ['CreateContainerRequest', 'sandbox_config', 3, 'TYPE_MESSAGE'],
  ['CreateContainerResponse', 'container_id', 1, 'TYPE_STRING'],
  ['StartContainerRequest', 'container_id', 1, 'TYPE_STRING'],
  ['StopContainerRequest', 'container_id', 1, 'TYPE_STRING'],
  ['StopContainerRequest', 'timeout', 2, 'TYPE_INT64'],
  ['RemoveContainerRequest', 'container_id', 1, 'TYPE_STRING'],
  // container listing and status
  ['ContainerFilter', 'id', 1, 'TYPE_STRING'],
  ['ContainerFilter', 'state', 2, 'TYPE_MESSAGE'],
  ['ContainerFilter', 'pod_sandbox_id', 3, 'TYPE_STRING'],
  ['ContainerFilter', 'label_selector', 4, 'TYPE_MESSAGE'],
  ['ContainerStateValue', 'state', 1, 'TYPE_ENUM'],
  ['ListContainersResponse', 'containers', 1, 'TYPE_MESSAGE'],
  ['Container', 'id', 1, 'TYPE_STRING'],
  ['Container', 'pod_sandbox_id', 2, 'TYPE_STRING'],
  ['Container', 'metadata', 3, 'TYPE_MESSAGE'],
  ['Container', 'image', 4, 'TYPE_MESSAGE'],
  ['Container', 'image_ref', 5, 'TYPE_STRING'],
  ['Container', 'state', 6, 'TYPE_ENUM'],
  ['Container', 'created_at', 7, 'TYPE_INT64'],
  ['Container', 'labels', 8, 'TYPE_MESSAGE'],
  ['Container', 'annotations', 9, 'TYPE_MESSAGE'],
  ['ContainerStatusRequest', 'container_id', 1, 'TYPE_STRING'],
  ['ContainerStatusRequest', 'verbose', 2, 'TYPE_BOOL'],
  ['ContainerStatusResponse', 'status', 1, 'TYPE_MESSAGE'],
  ['ContainerStatusResponse', 'info', 2, 'TYPE_MESSAGE'],
  ['ContainerStatus', 'id', 1, 'TYPE_STRING'],
  ['ContainerStatus', 'metadata', 2, 'TYPE_MESSAGE'],
  ['ContainerStatus', 'state', 3, 'TYPE_ENUM'],
  ['ContainerStatus', 'created_at', 4, 'TYPE_INT64'],
  ['ContainerStatus', 'started_at', 5, 'TYPE_INT64'],
  ['ContainerStatus', 'finished_at', 6, 'TYPE_INT64'],
  ['ContainerStatus', 'exit_code', 7, 'TYPE_INT32'],
  ['ContainerStatus', 'image', 8, 'TYPE_MESSAGE'],
  ['ContainerStatus', 'image_ref', 9, 'TYPE_STRING'],
  ['ContainerStatus', 'reason', 10, 'TYPE_STRING'],
  ['ContainerStatus', 'message', 11, 'TYPE_STRING'],
  ['ContainerStatus', 'labels', 12, 'TYPE_MESSAGE'],
  ['ContainerStatus', 'annotations', 13, 'TYPE_MESSAGE'],
  ['ContainerStatus', 'mounts', 14, 'TYPE_MESSAGE'],
  ['ContainerStatus', 'log_path', 15, 'TYPE_STRING'],
  ['ContainerStatus', 'resources', 16, 'TYPE_MESSAGE'],
  ['ContainerResources', 'linux', 1, 'TYPE_MESSAGE'],
  ['UpdateContainerResourcesRequest', 'container_id', 1, 'TYPE_STRING'],
  ['UpdateContainerResourcesRequest', 'linux', 2, 'TYPE_MESSAGE'],
  ['UpdateContainerResourcesRequest', 'annotations', 4, 'TYPE_MESSAGE'],
  ['ReopenContainerLogRequest', 'container_id', 1, 'TYPE_STRING'],
  // exec
  ['ExecSyncRequest', 'container_id', 1, 'TYPE_STRING'],
  ['ExecSyncRequest', 'cmd', 2, 'TYPE_STRING'],
  ['ExecSyncRequest', 'timeout', 3, 'TYPE_INT64'],
  ['ExecSyncResponse', 'stdout', 1, 'TYPE_BYTES'],
  ['ExecSyncResponse', 'stderr', 2, 'TYPE_BYTES'],
  ['ExecSyncResponse', 'exit_code', 3, 'TYPE_INT32'],
  ['ExecRequest', 'container_id', 1, 'TYPE_STRING'],
  ['ExecRequest', 'cmd', 2, 'TYPE_STRING'],
  ['ExecRequest', 'tty', 3, 'TYPE_BOOL'],
  ['ExecRequest', 'stdin', 4, 'TYPE_BOOL'],
  ['ExecRequest', 'stdout', 5, 'TYPE_BOOL'],
  ['ExecRequest', 'stderr', 6, 'TYPE_BOOL'],
  ['ExecResponse', 'url', 1, 'TYPE_STRING'],
  ['AttachRequest', 'stdin', 2, 'TYPE_BOOL'],
  ['AttachRequest', 'tty', 3, 'TYPE_BOOL'],
  ['PortForwardRequest', 'pod_sandbox_id', 1, 'TYPE_STRING'],
  ['PortForwardRequest', 'port', 2, 'TYPE_INT32'],
  // stats
  ['ContainerStatsRequest', 'container_id', 1, 'TYPE_STRING'],
  ['ContainerStatsResponse', 'stats', 1, 'TYPE_MESSAGE'],
  ['ContainerStatsFilter', 'id', 1, 'TYPE_STRING'],
  ['ContainerStatsFilter', 'pod_sandbox_id', 2, 'TYPE_STRING'],
  ['ContainerStatsFilter', 'label_selector', 3, 'TYPE_MESSAGE'],
  ['ListContainerStatsResponse', 'stats', 1, 'TYPE_MESSAGE'],
  ['ContainerStats', 'attributes', 1, 'TYPE_MESSAGE'],
  ['ContainerStats', 'cpu', 2, 'TYPE_MESSAGE'],
  ['ContainerStats', 'memory', 3, 'TYPE_MESSAGE'],
  ['ContainerStats', 'writable_layer', 4, 'TYPE_MESSAGE'],
  ['ContainerAttributes', 'id', 1, 'TYPE_STRING'],
  ['CpuUsage', 'timestamp', 1, 'TYPE_INT64'],
  ['CpuUsage', 'usage_core_nano_seconds', 2, 'TYPE_MESSAGE'],
  ['CpuUsage', 'usage_nano_cores', 3, 'TYPE_MESSAGE'],
  ['MemoryUsage', 'timestamp', 1, 'TYPE_INT64'],
  ['MemoryUsage', 'working_set_bytes', 2, 'TYPE_MESSAGE'],
  ['MemoryUsage', 'usage_bytes', 4, 'TYPE_MESSAGE'],
  ['MemoryUsage', 'rss_bytes', 5, 'TYPE_MESSAGE'],
  ['FilesystemUsage', 'timestamp', 1, 'TYPE_INT64'],
  ['FilesystemUsage', 'fs_id', 2, 'TYPE_MESSAGE'],
  ['FilesystemUsage', 'used_bytes', 3, 'TYPE_MESSAGE'],
  ['FilesystemUsage', 'inodes_used', 4, 'TYPE_MESSAGE'],
  ['FilesystemIdentifier', 'mountpoint', 1, 'TYPE_STRING'],
  // images
  ['ImageSpec', 'image', 1, 'TYPE_STRING'],
  ['ImageSpec', 'annotations', 2, 'TYPE_MESSAGE'],
  ['Image', 'id', 1, 'TYPE_STRING'],
  ['Image', 'repo_tags', 2, 'TYPE_STRING'],
  ['Image', 'repo_digests', 3, 'TYPE_STRING'],
  ['Image', 'size', 4, 'TYPE_UINT64'],
  ['Image', 'uid', 5, 'TYPE_MESSAGE'],
  ['Image', 'username', 6, 'TYPE_STRING'],
  ['Image', 'spec', 7, 'TYPE_MESSAGE'],
  ['Image', 'pinned', 8, 'TYPE_BOOL'],
  ['ImageFilter', 'image', 1, 'TYPE_MESSAGE'],
  ['ListImagesRequest', 'filter', 1, 'TYPE_MESSAGE'],
  ['ListImagesResponse', 'images', 1, 'TYPE_MESSAGE'],
  ['ImageStatusRequest', 'image', 1, 'TYPE_MESSAGE'],
  ['ImageStatusRequest', 'verbose', 2, 'TYPE_BOOL'],
  ['ImageStatusResponse', 'image', 1, 'TYPE_MESSAGE'],
  ['ImageStatusResponse', 'info', 2, 'TYPE_MESSAGE'],
  ['AuthConfig', 'username', 1, 'TYPE_STRING'],
  ['AuthConfig', 'password', 2, 'TYPE_STRING'],
  ['AuthConfig', 'auth', 3, 'TYPE_STRING'],
  ['AuthConfig', 'server_address', 4, 'TYPE_STRING'],
  ['AuthConfig', 'identity_token', 5, 'TYPE_STRING'],
  ['AuthConfig', 'registry_token', 6, 'TYPE_STRING'],
  ['PullImageRequest', 'image', 1, 'TYPE_MESSAGE'],
  ['PullImageRequest', 'auth', 2, 'TYPE_MESSAGE'],
  ['PullImageRequest', 'sandbox_config', 3, 'TYPE_MESSAGE'],
  ['PullImageResponse', 'image_ref', 1, 'TYPE_STRING'],
  ['RemoveImageRequest', 'image', 1, 'TYPE_MESSAGE'],
  ['ImageFsInfoResponse', 'image_filesystems', 1, 'TYPE_MESSAGE'],
  ['ImageFsInfoResponse', 'container_filesystems', 2, 'TYPE_MESSAGE'],
  ['UpdateRuntimeConfigRequest', 'runtime_config', 1, 'TYPE_MESSAGE'],
  ['RuntimeConfig', 'network_config', 1, 'TYPE_MESSAGE'],
  ['NetworkConfig', 'pod_cidr', 1, 'TYPE_STRING'],
];

t.test('field numbers and types match upstream runtime.v1', async (t) => {
  for (const [message, name, number, type] of fields) {
    const f = field(message, name);
    if (f === undefined) {
      t.fail(`${message}.${name} is missing`);
      continue;
    }
    t.equal(f.number, number, `${message}.${name} is field ${number}`);
    t.equal(f.type, type, `${message}.${name} is ${type}`);
  }
});

t.test('repeated and map fields are declared so', async (t) => {
  const repeated = [
    ['ContainerConfig', 'command'],
    ['ContainerConfig', 'envs'],
    ['ListPodSandboxResponse', 'items'],
    ['ListContainersResponse', 'containers'],
    ['Image', 'repo_tags'],
    ['ExecSyncRequest', 'cmd'],
    ['PodSandboxConfig', 'labels'], // maps are repeated entry messages on the wire
    ['ContainerFilter', 'label_selector'],
  ] as const;
  for (const [message, name] of repeated) t.equal(field(message, name)?.label, 'LABEL_REPEATED', `${message}.${name} is repeated`);
  t.equal(field('PodSandboxConfig', 'hostname')?.label, 'LABEL_OPTIONAL');
});

t.test('message-typed fields point at the upstream message types', async (t) => {
  const types: [string, string, string][] = [
    ['PodSandboxConfig', 'metadata', 'PodSandboxMetadata'],
    ['PodSandboxConfig', 'linux', 'LinuxPodSandboxConfig'],
    ['LinuxSandboxSecurityContext', 'run_as_user', 'Int64Value'],
    ['ContainerConfig', 'image', 'ImageSpec'],
    ['ContainerConfig', 'linux', 'LinuxContainerConfig'],
    ['ContainerConfig', 'envs', 'KeyValue'],
    ['PodSandboxStatus', 'network', 'PodSandboxNetworkStatus'],
    ['ContainerStatus', 'state', 'ContainerState'],
    ['PodSandbox', 'state', 'PodSandboxState'],
    ['NamespaceOption', 'network', 'NamespaceMode'],
    ['Image', 'size', ''],
    ['MemoryUsage', 'working_set_bytes', 'UInt64Value'],
  ];
  for (const [message, name, typeName] of types) t.equal(field(message, name)?.typeName, typeName, `${message}.${name} is a ${typeName || 'scalar'}`);
});

t.test('enum values match upstream', async (t) => {
  const enums: Record<string, Record<string, number>> = {
    ContainerState: { CONTAINER_CREATED: 0, CONTAINER_RUNNING: 1, CONTAINER_EXITED: 2, CONTAINER_UNKNOWN: 3 },
    PodSandboxState: { SANDBOX_READY: 0, SANDBOX_NOTREADY: 1 },
    NamespaceMode: { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 },
    Protocol: { TCP: 0, UDP: 1, SCTP: 2 },
    MountPropagation: { PROPAGATION_PRIVATE: 0, PROPAGATION_HOST_TO_CONTAINER: 1, PROPAGATION_BIDIRECTIONAL: 2 },
  };
  for (const [name, values] of Object.entries(enums)) {
    const def = definition[`runtime.v1.${name}`] as unknown as EnumDefinition | undefined;
    t.ok(def, `enum ${name} exists`);
    t.same(Object.fromEntries((def?.type.value ?? []).map((v) => [v.name, v.number])), values, `enum ${name}`);
  }
  // A nested enum is described inside its message.
  const profile = definition['runtime.v1.SecurityProfile'] as unknown as { type: { enumType: { name: string; value: { name: string; number: number }[] }[] } };
  const profileType = profile.type.enumType.find((e) => e.name === 'ProfileType');
  t.same(Object.fromEntries((profileType?.value ?? []).map((v) => [v.name, v.number])), { RuntimeDefault: 0, Unconfined: 1, Localhost: 2 }, 'enum SecurityProfile.ProfileType');
});

t.test('every RPC Moor uses is at its upstream path', async (t) => {
  const rpcs: Record<string, string[]> = {
    RuntimeService: [
      'Version', 'Status', 'RunPodSandbox', 'StopPodSandbox', 'RemovePodSandbox', 'PodSandboxStatus', 'ListPodSandbox',
      'CreateContainer', 'StartContainer', 'StopContainer', 'RemoveContainer', 'ListContainers', 'ContainerStatus',
      'UpdateContainerResources', 'ReopenContainerLog', 'ExecSync', 'Exec', 'Attach', 'PortForward', 'ContainerStats',
      'ListContainerStats', 'UpdateRuntimeConfig',
    ],
    ImageService: ['PullImage', 'ImageStatus', 'ListImages', 'RemoveImage', 'ImageFsInfo'],
  };
  for (const [service, methods] of Object.entries(rpcs)) {
    const def = definition[`runtime.v1.${service}`] as unknown as Record<string, { path: string; requestStream: boolean; responseStream: boolean }>;
    for (const m of methods) {
      t.equal(def[m]?.path, `/runtime.v1.${service}/${m}`, `${service}.${m}`);
      t.equal(def[m]?.requestStream || def[m]?.responseStream, false, `${service}.${m} is unary`);
    }
  }
});
