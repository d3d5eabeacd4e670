#!/usr/bin/env bash
# Brings up a Moor node on this machine: `sudo bash scripts/up.sh`. Installs what is missing, builds,
# builds and serves Moor's images from the local registry, writes the node's containerd and CNI
# configuration, starts Moor's own containerd (never the host's /run/containerd), `moor server` (API
# server with its SQLite store, scheduler and controllers) and `moor agent` joined to it, which runs
# the pods the scheduler binds to the node and the static pods of $MOOR_ETC_DIR/manifests; it waits
# until the node is Ready, prints the admin kubeconfig, and links `moor` into /usr/local/bin.
# Idempotent: a second run finds everything up and changes nothing.
# `scripts/down.sh` undoes it. Every path, the bridge, the pod CIDR and the agent's port can be moved
# through the MOOR_* variables below (the end-to-end test runs a whole node in its own directories).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"

# The server's node IPAM gives each node a /24 of the cluster CIDR; the agent writes the node's
# moor-bridge conflist for it.
CLUSTER_CIDR=${MOOR_CLUSTER_CIDR:-10.244.0.0/16}
BRIDGE=${MOOR_BRIDGE:-moor0}
AGENT_PORT=${MOOR_AGENT_PORT:-10250}
SERVER_PORT=${MOOR_SERVER_PORT:-6443}
NODE_NAME=${MOOR_NODE_NAME:-$(hostname | tr 'A-Z_' 'a-z-')}
etc=${MOOR_ETC_DIR:-/etc/moor}
cni_bin=${MOOR_CNI_BIN_DIR:-/opt/moor/cni/bin}
logs=${MOOR_LOG_DIR:-/var/log/moor}
pod_logs=${MOOR_POD_LOGS_DIR:-/var/log/pods}
cri_root=$MOOR_STATE_DIR/containerd
cri_state=$MOOR_RUN_DIR/containerd
socket=$cri_state/containerd.sock
cni_conf=$etc/cni/net.d
manifests=$etc/manifests

bash scripts/install-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
# Remember whether this node started the registry, so that down.sh stops only what up.sh started.
mkdir -p "$MOOR_RUN_DIR"
if [ "$(bash scripts/registry.sh start)" = started ]; then
  touch "$MOOR_RUN_DIR/registry.started-by-up"
fi
bash scripts/images.sh

mkdir -p "$etc/containerd/certs.d/${MOOR_REGISTRY_ADDR}" "$cni_bin" "$cni_conf" "$manifests" "$cri_root" "$cri_state" "$logs"
moor() { node "$src/dist/moor.mjs" "$@"; }
moor containerd config --root "$cri_root" --state "$cri_state" --socket "$socket" \
  --cni-bin-dir "$cni_bin" --cni-conf-dir "$cni_conf" --registry-config-dir "$etc/containerd/certs.d" \
  > "$etc/containerd/config.toml.new"
mv "$etc/containerd/config.toml.new" "$etc/containerd/config.toml"
moor containerd registry-hosts "$MOOR_REGISTRY_ADDR" > "$etc/containerd/certs.d/${MOOR_REGISTRY_ADDR}/hosts.toml"

# CNI: moor-bridge and the reference loopback and portmap. The node's conflist is the agent's to
# write, once the server has given the node its pod CIDR.
for p in loopback portmap; do ln -sfn "/usr/lib/cni/$p" "$cni_bin/$p"; done
install -m 0755 dist/moor-bridge "$cni_bin/moor-bridge"

# start_daemon NAME PIDFILE LOG ARGV... : start in its own session unless our pid file names a live process.
start_daemon() {
  local name=$1 pidfile=$2 logfile=$3; shift 3
  if [ -f "$pidfile" ] && [ -d "/proc/$(cat "$pidfile")" ]; then
    log "$name already running (pid $(cat "$pidfile"))"
    return
  fi
  setsid "$@" >>"$logfile" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  log "$name started (pid $!, log $logfile)"
}

start_daemon containerd "$MOOR_RUN_DIR/containerd.pid" "$logs/containerd.log" containerd --config "$etc/containerd/config.toml"
for _ in $(seq 1 200); do
  if moor cri --container-runtime-endpoint "unix://$socket" status >/dev/null 2>&1; then break; fi
  [ -d "/proc/$(cat "$MOOR_RUN_DIR/containerd.pid")" ] || die "containerd exited; see $logs/containerd.log"
  sleep 0.1
done
moor cri --container-runtime-endpoint "unix://$socket" status >/dev/null || die "containerd's CRI did not become ready; see $logs/containerd.log"

server_dir=$MOOR_STATE_DIR/server
start_daemon server "$MOOR_RUN_DIR/server.pid" "$logs/server.log" \
  node "$src/dist/moor.mjs" server --data-dir "$server_dir" --secure-port "$SERVER_PORT" \
  --cluster-cidr "$CLUSTER_CIDR" --node-cidr-mask-size 24
for _ in $(seq 1 300); do
  if curl -fsSk -o /dev/null --max-time 1 "https://127.0.0.1:$SERVER_PORT/readyz"; then break; fi
  [ -d "/proc/$(cat "$MOOR_RUN_DIR/server.pid")" ] || die "moor server exited; see $logs/server.log"
  sleep 0.1
done
curl -fsSk -o /dev/null --max-time 2 "https://127.0.0.1:$SERVER_PORT/readyz" || die "moor server did not become ready; see $logs/server.log"

# The agent joins with a node token of its own (system:node:<name>).
token=$(moor server token create --node "$NODE_NAME" --data-dir "$server_dir")
umask 077
cat > "$etc/agent.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: moor
  cluster:
    server: https://127.0.0.1:$SERVER_PORT
    certificate-authority-data: $(base64 -w0 < "$server_dir/pki/ca.crt")
users:
- name: system:node:$NODE_NAME
  user:
    token: $token
contexts:
- name: moor
  context: { cluster: moor, user: "system:node:$NODE_NAME" }
current-context: moor
YAML
umask 022
start_daemon agent "$MOOR_RUN_DIR/agent.pid" "$logs/agent.log" \
  node "$src/dist/moor.mjs" agent --container-runtime-endpoint "unix://$socket" \
  --kubeconfig "$etc/agent.kubeconfig" --hostname-override "$NODE_NAME" --address 0.0.0.0 \
  --cni-conf-dir "$cni_conf" --cni-bridge "$BRIDGE" --non-masquerade-cidr "$CLUSTER_CIDR" \
  --pod-manifest-path "$manifests" --root-dir "$MOOR_STATE_DIR/agent" --pod-logs-dir "$pod_logs" --port "$AGENT_PORT"

# Ready: the node's Ready condition as the server sees it (the agent's own heartbeat).
node_ready() {
  curl -fsS --max-time 2 --cacert "$server_dir/pki/ca.crt" -H "Authorization: Bearer $token" \
    "https://127.0.0.1:$SERVER_PORT/api/v1/nodes/$NODE_NAME" 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const n=JSON.parse(s);const r=(n.status?.conditions??[]).find(c=>c.type==="Ready");process.exit(r?.status==="True"&&n.spec?.podCIDR?0:1)})'
}
for _ in $(seq 1 600); do
  if node_ready; then break; fi
  [ -d "/proc/$(cat "$MOOR_RUN_DIR/agent.pid")" ] || die "moor agent exited; see $logs/agent.log"
  sleep 0.1
done
node_ready || die "node $NODE_NAME did not become Ready; see $logs/agent.log and $logs/server.log"

[ "${MOOR_LINK_CLI:-1}" = 1 ] && ln -sfn "$src/bin/moor" /usr/local/bin/moor
log "node $NODE_NAME Ready: server https://127.0.0.1:$SERVER_PORT, CRI unix://$socket, pods on $BRIDGE"
log "kubeconfig: $server_dir/admin.kubeconfig"
log "try: KUBECONFIG=$server_dir/admin.kubeconfig kubectl create deployment web --image=$MOOR_IMAGE_REPO/busybox:1.0 -- httpd -f -p 8080"
