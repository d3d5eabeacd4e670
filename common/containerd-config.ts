// Renders the configuration of a containerd 1.6 instance that Moor runs itself (the test rig, and
// `moor up` when the host has no containerd of its own). Pure: paths in, TOML text out.
// The settings marked "required here" come from measurements on these machines
// (shared/reference/containerd-cri.md §2): without them every RunPodSandbox fails.

export interface ContainerdConfigOptions {
  readonly rootDir: string;
  readonly stateDir: string;
  readonly socketPath: string;
  readonly sandboxImage: string;
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  /** Directory of per-registry hosts.toml files (see renderRegistryHosts). */
  readonly registryConfigDir: string;
}

function quote(value: string): string {
  if (/["\\\n]/.test(value)) throw new Error(`render containerd config: unsupported character in ${JSON.stringify(value)}`);
  return `"${value}"`;
}

export function renderContainerdConfig(o: ContainerdConfigOptions): string {
  return `# Written by Moor. An isolated containerd: own root, state and socket.
version = 2
root = ${quote(o.rootDir)}
state = ${quote(o.stateDir)}
# io.containerd.runtime.v1.linux stays enabled: the 1.6 CRI plugin depends on it.

[grpc]
  address = ${quote(o.socketPath)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${quote(o.rootDir + '/opt')}

[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = ${quote(o.stateDir + '/runc-v1')}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${quote(o.sandboxImage)}
  # required here: root lacks CAP_SYS_RESOURCE, so sandboxes may not lower oom_score_adj
  restrict_oom_score_adj = true
  # pod netns under our state dir, not the shared /var/run/netns
  netns_mounts_under_state_dir = true
  tolerate_missing_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${quote(o.cniBinDir)}
    conf_dir = ${quote(o.cniConfDir)}
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ${quote(o.registryConfigDir)}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroupfs driver: PID 1 is not systemd on every host Moor runs on
        SystemdCgroup = false
        Root = ${quote(o.stateDir + '/runc')}
`;
}

/** hosts.toml for a plain-HTTP registry such as Moor's local one at 127.0.0.1:5000. */
export function renderRegistryHosts(hostPort: string): string {
  return `server = "http://${hostPort}"
[host."http://${hostPort}"]
  capabilities = ["pull", "resolve"]
`;
}
