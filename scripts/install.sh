#!/usr/bin/env bash
# Installs Moor on this Linux host as system services, where an admin looks for things:
#   /usr/local/lib/moor          the program: dist/ (CLI bundle, proto), production node_modules
#   /usr/local/bin/moor          wrapper: the CLI on this machine's node (found at install time)
#   /opt/cni/bin/moor-bridge     the CNI plugin (scripts/install-cni.sh), loopback and portmap linked
#   /etc/moor                    server.env, agent.env (the daemons' flags), containerd/config.toml,
#                                registry/config.yml, agent.kubeconfig; written once, never overwritten
#   /var/lib/moor                state: server/, agent/, containerd/, registry/
#   /etc/systemd/system          moor-server, moor-agent, moor-containerd, moor-registry units
# When systemd is PID 1 (and --root is /) it runs `systemctl daemon-reload` and enables the units of
# the role; it starts them only with --start. Idempotent: a second run with the same options changes
# no file. `--uninstall` removes what it installed, keeping /etc/moor and /var/lib/moor unless --purge.
#
#   scripts/install.sh [--role all|server|agent] [--start] [--images]
#                      [--node-name NAME] [--node-ip IP] [--pod-cidr CIDR] [--cluster-cidr CIDR]
#                      [--kubeconfig FILE | --join URL --token TOKEN --ca-file FILE]
#                      [--root DIR] [--prefix DIR] [--cni-bin-dir DIR] [--dist DIR]
#   scripts/install.sh --uninstall [--purge] [--root DIR] [--prefix DIR]
#
# --role        all (default): server and agent on this host; server: moor-server only; agent:
#               moor-containerd and moor-agent
# --start       start (or restart, when the program or a unit changed) the role's services
# --images      enable moor-registry on 127.0.0.1:5000 and push Moor's images into it (scripts/images.sh)
# --node-name   the agent's node name (--hostname-override); must match a --join token's node
# --node-ip     the agent's node address (a VM's private network rather than its NAT address)
# --pod-cidr    a node without a server: write the moor-bridge conflist for this CIDR
# --cluster-cidr  the cluster's pod CIDR (default 10.244.0.0/16): the server gives each node a /24
#               of it, and a joined agent leaves traffic to it unmasqueraded (pod IPs kept across nodes)
#               and routes the other nodes' /24s via their node IPs (--pod-network-routes host-gw)
# --kubeconfig  the agent's kubeconfig, copied to /etc/moor/agent.kubeconfig
# --join        write /etc/moor/agent.kubeconfig for server URL, node token (`moor server token
#               create --node NAME` on the server) and the server's CA file (pki/ca.crt)
# --root        install below DIR instead of / (a package root, a test); systemctl is not called
# --prefix      program and wrapper below DIR instead of /usr/local
# --dist        use this built dist/ instead of building ./dist when its sources are newer
set -euo pipefail
. "$(dirname "$0")/lib.sh"
src=$(cd "$(dirname "$0")/.." && pwd)

root=/
prefix=/usr/local
cni_bin=/opt/cni/bin
role=all
dist=''
start=false
images=false
node_name=''
node_ip=''
pod_cidr=''
cluster_cidr=10.244.0.0/16
kubeconfig=''
join_url=''
join_token=''
join_ca=''
uninstall=false
purge=false

while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --cni-bin-dir) cni_bin=$2; shift 2 ;;
    --role) role=$2; shift 2 ;;
    --dist) dist=$2; shift 2 ;;
    --start) start=true; shift ;;
    --images) images=true; shift ;;
    --node-name) node_name=$2; shift 2 ;;
    --node-ip) node_ip=$2; shift 2 ;;
    --pod-cidr) pod_cidr=$2; shift 2 ;;
    --cluster-cidr) cluster_cidr=$2; shift 2 ;;
    --kubeconfig) kubeconfig=$2; shift 2 ;;
    --join) join_url=$2; shift 2 ;;
    --token) join_token=$2; shift 2 ;;
    --ca-file) join_ca=$2; shift 2 ;;
    --uninstall) uninstall=true; shift ;;
    --purge) purge=true; shift ;;
    -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "install: unknown option $1 (see --help)" ;;
  esac
done

# --- validation: everything is checked before anything is written ------------------------------
case "$role" in all|server|agent) ;; *) die "install: --role $role is not one of all, server, agent" ;; esac
[[ "$root" = /* ]] || die "install: --root $root is not an absolute path"
[[ "$prefix" = /* ]] || die "install: --prefix $prefix is not an absolute path"
[[ "$cni_bin" = /* ]] || die "install: --cni-bin-dir $cni_bin is not an absolute path"
root=${root%/}
if [ -n "$root" ] && [ "$uninstall" = false ]; then mkdir -p "$root"; fi
[ -z "$node_name" ] || [[ "$node_name" =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || die "install: --node-name $node_name is not a lower case RFC 1123 name"
[ -z "$node_ip" ] || [[ "$node_ip" =~ ^[0-9.]+$|: ]] || die "install: --node-ip $node_ip is not an IP address"
[ -z "$pod_cidr" ] || [[ "$pod_cidr" =~ ^[0-9a-fA-F.:]+/[0-9]{1,3}$ ]] || die "install: --pod-cidr $pod_cidr is not a CIDR"
[[ "$cluster_cidr" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$ ]] || die "install: --cluster-cidr $cluster_cidr is not an IPv4 CIDR"
if [ -n "$join_url$join_token$join_ca" ]; then
  [ -n "$join_url" ] && [ -n "$join_token" ] && [ -n "$join_ca" ] || die "install: --join needs --token and --ca-file as well"
  [ -z "$kubeconfig" ] || die "install: give either --kubeconfig or --join, not both"
  [[ "$join_url" =~ ^https://[^/[:space:]]+$ ]] || die "install: --join $join_url is not an https://host:port URL"
  [[ "$join_token" =~ ^[A-Za-z0-9._:-]+$ ]] || die "install: --token has characters a bearer token never has"
  [ -r "$join_ca" ] || die "install: --ca-file $join_ca is not readable"
  grep -q 'BEGIN CERTIFICATE' "$join_ca" || die "install: --ca-file $join_ca holds no PEM certificate"
fi
[ -z "$kubeconfig" ] || [ -r "$kubeconfig" ] || die "install: --kubeconfig $kubeconfig is not readable"
[ "$(id -u)" -eq 0 ] || [ "$root" != '' ] || die "must run as root (try: sudo bash $0), or install below --root DIR"
if [ "$uninstall" = false ] && [ "$purge" = true ]; then die "install: --purge goes with --uninstall"; fi

# Final paths (as the host sees them, written into units and wrappers) and where they are written.
lib=$prefix/lib/moor
bin=$prefix/bin
etc=/etc/moor
state=/var/lib/moor
units=/etc/systemd/system
socket=/run/moor/containerd/containerd.sock
manifest=$state/install-manifest
R() { printf '%s%s' "$root" "$1"; }

systemd_live() { [ -z "$root" ] && [ -d /run/systemd/system ]; }
all_units=(moor-server.service moor-agent.service moor-containerd.service moor-registry.service)
role_units() {
  case "$role" in
    server) echo moor-server.service ;;
    agent) echo moor-containerd.service moor-agent.service ;;
    all) echo moor-containerd.service moor-server.service moor-agent.service ;;
  esac
  if [ "$images" = true ]; then echo moor-registry.service; fi
}

# --- the record of what this script made, so that --uninstall removes exactly that -------------
# One line per path: "<kind> <path>", kinds: t program tree, f file, l symlink, c configuration
# (kept unless --purge), s state directory (kept unless --purge), d directory made (removed when empty).
declare -A record=()
if [ -f "$(R "$manifest")" ]; then
  while read -r kind path; do [ -n "$path" ] && record[$path]=$kind; done < "$(R "$manifest")"
fi
note() { record[$2]=$1; }
changed=()   # final paths written in this run, for the summary and restarts

# ensure_dir DIR [KIND]: makes DIR and any missing parent, recording each one it made.
ensure_dir() {
  local dir=$1 kind=${2:-d} path='' part
  local IFS=/
  for part in ${dir#/}; do
    path=$path/$part
    if [ ! -d "$(R "$path")" ]; then
      mkdir -m 0755 "$(R "$path")"
      [ -n "${record[$path]:-}" ] || record[$path]=d
    fi
  done
  if [ "$kind" != d ]; then record[$dir]=$kind; fi
}

# put_file SRC DEST MODE KIND: writes DEST atomically when its content or mode differs.
put_file() {
  local from=$1 to=$2 mode=$3 kind=$4 dest
  dest=$(R "$to")
  ensure_dir "$(dirname "$to")"
  if [ -f "$dest" ] && [ ! -L "$dest" ] && cmp -s "$from" "$dest" && [ "$(stat -c %a "$dest")" = "$mode" ]; then
    note "$kind" "$to"; return 0
  fi
  install -m "$mode" "$from" "$dest.moor-new"
  mv -f "$dest.moor-new" "$dest"
  note "$kind" "$to"
  changed+=("$to")
}

# put_config SRC DEST MODE: configuration is the admin's once written: only a missing file is written.
put_config() {
  local from=$1 to=$2 mode=$3
  if [ -e "$(R "$to")" ]; then
    cmp -s "$from" "$(R "$to")" || log "kept $to (differs from this version's default)"
    [ -n "${record[$to]:-}" ] || record[$to]=c
    return 0
  fi
  put_file "$from" "$to" "$mode" c
}

# put_link TARGET LINK: a symlink, made only when nothing is at LINK.
put_link() {
  local target=$1 link=$2
  if [ -L "$(R "$link")" ] || [ -e "$(R "$link")" ]; then return 0; fi
  ensure_dir "$(dirname "$link")"
  ln -s "$target" "$(R "$link")"
  note l "$link"
  changed+=("$link")
}

write_manifest() {
  local tmp; tmp=$(mktemp)
  for path in "${!record[@]}"; do printf '%s %s\n' "${record[$path]}" "$path"; done | LC_ALL=C sort -k2 > "$tmp"
  put_file "$tmp" "$manifest" 644 f
  rm -f "$tmp"
}

# tree_digest DIR: one hash over names, types, modes, link targets and file contents.
tree_digest() {
  (cd "$1" && { find . -printf '%y %m %p %l\n' | LC_ALL=C sort; find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum; }) | sha256sum | cut -d' ' -f1
}

# =================================================================================================
if [ "$uninstall" = true ]; then
  [ -f "$(R "$manifest")" ] || { log "nothing to uninstall: $(R "$manifest") does not exist"; exit 0; }
  if systemd_live; then
    # step 1: stop the services; pods go first, while their containerd still answers
    systemctl disable --now moor-agent.service moor-server.service >/dev/null 2>&1 || true
    if [ -S "$socket" ] && [ -x "$bin/moor" ]; then
      "$bin/moor" cri --container-runtime-endpoint "unix://$socket" remove-all-pods >/dev/null || log "warning: could not remove every pod"
    fi
    systemctl disable --now moor-containerd.service moor-registry.service >/dev/null 2>&1 || true
    if ip link show moor0 >/dev/null 2>&1; then ip link del moor0 && log "removed bridge moor0"; fi
  fi
  # step 2: files, links and the program; configuration and state only with --purge
  for path in "${!record[@]}"; do
    target=$(R "$path")
    case "${record[$path]}" in
      t) rm -rf "$target" ;;
      f) rm -f "$target" ;;
      l) if [ -L "$target" ]; then rm -f "$target"; fi ;;
      c|s) if [ "$purge" = true ]; then rm -rf "$target"; fi ;;
    esac
  done
  # step 3: directories this script made, deepest first, when nothing else is left in them
  for path in $(for p in "${!record[@]}"; do [ "${record[$p]}" = d ] && echo "$p"; done | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-); do
    if [ "$purge" = true ] && { [ "$path" = "$etc" ] || [ "$path" = "$state" ]; }; then rm -rf "$(R "$path")"; fi
    rmdir "$(R "$path")" 2>/dev/null || true
  done
  # step 4: the record keeps what is left (configuration, state, their directories) for a later --purge
  if [ "$purge" = true ]; then
    rm -f "$(R "$manifest")"
    rmdir "$(R "$state")" 2>/dev/null || true
  else
    for path in "${!record[@]}"; do
      case "${record[$path]}" in
        c|s|d) if [ -e "$(R "$path")" ]; then printf '%s %s\n' "${record[$path]}" "$path"; fi ;;
      esac
    done | LC_ALL=C sort -k2 > "$(R "$manifest").moor-new"
    mv -f "$(R "$manifest").moor-new" "$(R "$manifest")"
  fi
  if systemd_live; then systemctl daemon-reload; fi
  if [ "$purge" = true ]; then log "uninstalled Moor and purged $etc and $state"; else log "uninstalled Moor (kept $etc and $state; --purge removes them)"; fi
  exit 0
fi

# =================================================================================================
# step 1: what is needed here, and refuse what would collide
node_bin=$(command -v node) || die "install: node not found in PATH (Moor needs Node.js 20 or later)"
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "install: node $("$node_bin" --version) at $node_bin is too old (Moor needs 20 or later)"
if [ "$role" != server ] && [ -z "$root" ]; then
  command -v containerd >/dev/null || die "install: containerd not found (install Debian's containerd and runc: scripts/install-deps.sh)"
fi
if [ -z "$root" ] && [ -f /run/moor/containerd.pid ] && [ -d "/proc/$(cat /run/moor/containerd.pid)" ]; then
  die "install: the node of scripts/up.sh is running (containerd pid $(cat /run/moor/containerd.pid)); stop it with scripts/down.sh first"
fi

# step 2: the build: the given --dist, or ./dist rebuilt when missing or older than its sources
if [ -z "$dist" ]; then
  cd "$src"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm packages"
    npm ci --no-audit --no-fund >&2
  fi
  if [ ! -f dist/moor.mjs ] || [ -n "$(find cli agent cni controlplane common proto scripts/build.mjs -newer dist/moor.mjs -print -quit 2>/dev/null)" ]; then
    log "building dist/"
    node scripts/build.mjs >&2
  fi
  dist=$src/dist
fi
dist=$(cd "$dist" && pwd)
for f in moor.mjs moor-bridge proto; do [ -e "$dist/$f" ] || die "install: $dist/$f is missing (build with: npm run build)"; done
[ -d "$src/node_modules" ] || die "install: $src/node_modules is missing (run: npm ci)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# step 3: the program tree, staged then swapped in whole when it differs from the installed one
stage=$work/lib
mkdir -p "$stage/node_modules"
cp -a "$dist" "$stage/dist"
cp "$src/package.json" "$src/README.md" "$stage/"
# production dependencies only: the lockfile's packages not marked dev, as installed (a package's own
# node_modules comes with it)
prod_list=$("$node_bin" -e '
  const [src] = process.argv.slice(1);
  const fs = require("node:fs");
  const lock = JSON.parse(fs.readFileSync(src + "/package-lock.json", "utf8"));
  const wanted = Object.keys(require(src + "/package.json").dependencies ?? {});
  const prod = Object.entries(lock.packages ?? {})
    .filter(([path, p]) => /^node_modules\/(@[^/]+\/)?[^/@][^/]*$/.test(path) && !p.dev && !p.devOptional && !p.link)
    .map(([path]) => path.slice("node_modules/".length))
    .filter((name) => fs.existsSync(src + "/node_modules/" + name + "/package.json"));
  for (const d of wanted) if (!prod.includes(d)) { console.error(`install: npm dependency ${d} is not installed in ${src}/node_modules (run: npm ci)`); process.exit(1); }
  console.log(prod.sort().join("\n"));
' "$src") || die "install: cannot list the production npm packages of $src"
mapfile -t prod <<< "$prod_list"
(cd "$src/node_modules" && cp -a --parents "${prod[@]}" "$stage/node_modules/")
# better-sqlite3 keeps its sources and build intermediates next to the addon; only the addon runs
if [ -d "$stage/node_modules/better-sqlite3/build/Release" ]; then
  rm -rf "$stage/node_modules/better-sqlite3/deps" "$stage/node_modules/better-sqlite3/src"
  find "$stage/node_modules/better-sqlite3/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find "$stage/node_modules/better-sqlite3/build/Release" -mindepth 1 -maxdepth 1 ! -name 'better_sqlite3.node' -exec rm -rf {} +
fi
chmod -R u=rwX,go=rX "$stage"
ensure_dir "$(dirname "$lib")"
if [ -d "$(R "$lib")" ] && [ "$(tree_digest "$stage")" = "$(tree_digest "$(R "$lib")")" ]; then
  note t "$lib"
else
  mv "$stage" "$(R "$lib").moor-new"
  if [ -d "$(R "$lib")" ]; then mv "$(R "$lib")" "$(R "$lib").moor-old"; fi
  mv "$(R "$lib").moor-new" "$(R "$lib")"
  rm -rf "$(R "$lib").moor-old"
  note t "$lib"
  changed+=("$lib")
fi

# step 4: the wrapper, with the absolute path of this machine's node (services get a short PATH)
cat > "$work/moor" <<SH
#!/bin/sh
# Moor's command, installed by scripts/install.sh: the CLI in $lib on this machine's node.
exec $node_bin $lib/dist/moor.mjs "\$@"
SH
put_file "$work/moor" "$bin/moor" 755 f

# step 5: the CNI plugin, prepared by scripts/install-cni.sh (shebang on this node), then placed
bash "$src/scripts/install-cni.sh" --bin-dir "$work/cni" --plugin "$dist/moor-bridge" >/dev/null
put_file "$work/cni/moor-bridge" "$cni_bin/moor-bridge" 755 f
for ref in loopback portmap; do
  if [ -x "/usr/lib/cni/$ref" ] && [ "$cni_bin" != /usr/lib/cni ]; then put_link "/usr/lib/cni/$ref" "$cni_bin/$ref"; fi
done
ensure_dir "$etc/cni/net.d" c
if [ -n "$pod_cidr" ]; then
  bash "$src/scripts/install-cni.sh" --bin-dir "$work/cni" --plugin "$dist/moor-bridge" --conf-dir "$work/net.d" --pod-cidr "$pod_cidr" >/dev/null
  put_file "$work/net.d/10-moor.conflist" "$etc/cni/net.d/10-moor.conflist" 644 f
fi

# step 6: configuration: the daemons' flags, containerd's and the registry's settings
ensure_dir "$etc" d
ensure_dir "$etc/manifests" c
cat > "$work/server.env" <<ENV
# Flags of \`moor server\` (see: moor server --help), read by moor-server.service; the scheduler's and
# controllers' flags (--cluster-cidr, --controllers, --node-monitor-grace-period, ...) go here too.
# Written once by scripts/install.sh and never overwritten: edit, then systemctl restart moor-server.
MOOR_SERVER_ARGS="--data-dir $state/server --bind-address 0.0.0.0 --secure-port 6443 --cluster-cidr $cluster_cidr"
MOOR_LOG_LEVEL=info
ENV
agent_kubeconfig=$etc/agent.kubeconfig
agent_args="--container-runtime-endpoint unix://$socket --root-dir $state/agent --pod-manifest-path $etc/manifests"
[ -z "$node_name" ] || agent_args+=" --hostname-override $node_name"
[ -z "$node_ip" ] || agent_args+=" --node-ip $node_ip"
# Joined: the agent writes the conflist for the pod CIDR the server gives the node (unless --pod-cidr
# wrote a fixed one), keeps pod IPs on traffic to the rest of the cluster, and routes the other
# nodes' pod CIDRs via their node IPs (nodes on one network, as the Vagrant VMs are).
[ -z "$kubeconfig$join_url" ] || agent_args+=" --kubeconfig $agent_kubeconfig --non-masquerade-cidr $cluster_cidr --pod-network-routes host-gw"
[ -z "$kubeconfig$join_url" ] || [ -n "$pod_cidr" ] || agent_args+=" --cni-conf-dir $etc/cni/net.d"
cat > "$work/agent.env" <<ENV
# Flags of \`moor agent\` (see: moor agent --help), read by moor-agent.service.
# Written once by scripts/install.sh and never overwritten (install.sh --join adds --kubeconfig when
# it is missing): edit, then systemctl restart moor-agent.
MOOR_AGENT_ARGS="$agent_args"
ENV
put_config "$work/server.env" "$etc/server.env" 644
put_config "$work/agent.env" "$etc/agent.env" 644

# the agent's kubeconfig: a credential given on this run replaces the previous one
if [ -n "$join_url" ]; then
  ca_data=$(base64 -w0 < "$join_ca")
  user="system:node:${node_name:-$(hostname | tr 'A-Z' 'a-z')}"
  cat > "$work/agent.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: moor
  cluster:
    server: $join_url
    certificate-authority-data: $ca_data
users:
- name: $user
  user:
    token: $join_token
contexts:
- name: moor
  context:
    cluster: moor
    user: $user
current-context: moor
YAML
  kubeconfig=$work/agent.kubeconfig
fi
if [ -n "$kubeconfig" ]; then
  put_file "$kubeconfig" "$agent_kubeconfig" 600 c
  # an agent.env written before the join lacks the flag: add it to MOOR_AGENT_ARGS="..."
  env_file=$(R "$etc/agent.env")
  if ! grep -q '^MOOR_AGENT_ARGS=.*--kubeconfig' "$env_file"; then
    joined_args="--kubeconfig $agent_kubeconfig --non-masquerade-cidr $cluster_cidr --pod-network-routes host-gw"
    [ -n "$pod_cidr" ] || grep -q '^MOOR_AGENT_ARGS=.*--cni-conf-dir' "$env_file" || joined_args+=" --cni-conf-dir $etc/cni/net.d"
    grep -q '^MOOR_AGENT_ARGS="[^"]*"$' "$env_file" || die "install: cannot add $joined_args to $etc/agent.env (no MOOR_AGENT_ARGS=\"...\" line): add it by hand"
    sed "s|^MOOR_AGENT_ARGS=\"\\([^\"]*\\)\"\$|MOOR_AGENT_ARGS=\"\\1 $joined_args\"|" "$env_file" > "$work/agent.env.joined"
    put_file "$work/agent.env.joined" "$etc/agent.env" 644 c
    log "added $joined_args to $etc/agent.env"
  fi
fi

# the installed program renders them (a --dist outside the source tree has no node_modules beside it)
moor_tmp() { "$node_bin" "$(R "$lib")/dist/moor.mjs" "$@"; }
moor_tmp containerd config --root "$state/containerd" --state /run/moor/containerd --socket "$socket" \
  --cni-bin-dir "$cni_bin" --cni-conf-dir "$etc/cni/net.d" --registry-config-dir "$etc/containerd/certs.d" > "$work/containerd.toml"
put_config "$work/containerd.toml" "$etc/containerd/config.toml" 644
moor_tmp containerd registry-hosts "$MOOR_REGISTRY_ADDR" > "$work/hosts.toml"
put_file "$work/hosts.toml" "$etc/containerd/certs.d/$MOOR_REGISTRY_ADDR/hosts.toml" 644 f
cat > "$work/registry.yml" <<YAML
# Moor's local image registry (moor-registry.service); scripts/images.sh pushes Moor's images here.
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $state/registry/data
  delete:
    enabled: true
http:
  addr: $MOOR_REGISTRY_ADDR
YAML
put_config "$work/registry.yml" "$etc/registry/config.yml" 644

# step 7: state directories
ensure_dir "$state" d
for d in server agent containerd registry; do ensure_dir "$state/$d" s; done
chmod 0700 "$(R "$state/server")"

# step 8: the units, with the program's paths when --prefix moves them
for unit in "${all_units[@]}"; do
  sed -e "s|/usr/local/bin/moor|$bin/moor|g" -e "s|/usr/local/lib/moor|$lib|g" "$src/systemd/$unit" > "$work/$unit"
  put_file "$work/$unit" "$units/$unit" 644 f
done
write_manifest

# step 9: systemd, only when it runs this host
units_changed=false
program_changed=false
containerd_changed=false
for p in "${changed[@]}"; do
  case "$p" in
    "$units"/*) units_changed=true ;;&
    "$lib"|"$bin/moor"|"$etc/agent.env"|"$etc/server.env"|"$agent_kubeconfig") program_changed=true ;;
    "$units/moor-containerd.service"|"$etc/containerd/"*) containerd_changed=true ;;
  esac
done
if systemd_live; then
  if [ "$units_changed" = true ]; then systemctl daemon-reload; fi
  # shellcheck disable=SC2046
  systemctl enable --quiet $(role_units)
  if [ "$images" = true ]; then
    systemctl start moor-registry.service
    for _ in $(seq 1 100); do curl -fsS -o /dev/null --max-time 1 "http://$MOOR_REGISTRY_ADDR/v2/" 2>/dev/null && break; sleep 0.1; done
    bash "$src/scripts/images.sh"
  fi
  if [ "$start" = true ]; then
    for unit in $(role_units); do
      if { [ "$unit" = moor-containerd.service ] && [ "$containerd_changed" = true ]; } ||
         { [ "$unit" != moor-containerd.service ] && [ "$unit" != moor-registry.service ] && { [ "$program_changed" = true ] || [ "$units_changed" = true ]; }; }; then
        systemctl restart "$unit"
      else
        systemctl start "$unit"
      fi
    done
  fi
  log "enabled: $(role_units | tr '\n' ' ')"
elif [ -z "$root" ]; then
  log "systemd is not running this host (PID 1): units installed in $units, not enabled"
fi

if [ ${#changed[@]} -eq 0 ]; then
  log "Moor is installed; nothing changed"
else
  log "installed Moor in ${root:-/} (${#changed[@]} changed: ${changed[*]})"
fi
