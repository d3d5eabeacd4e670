#!/usr/bin/env bash
# Brings up a Moor node on this machine: `sudo bash scripts/up.sh`. Installs what is missing, builds,
# builds and serves Moor's images from the local registry, writes the node's containerd and CNI
# configuration, starts Moor's own containerd (never the host's /run/containerd), then `moor agent`
# running the pods in the manifest directory ($MOOR_ETC_DIR/manifests), and links `moor` into
# /usr/local/bin. Idempotent: a second run finds everything up and changes nothing.
# `scripts/down.sh` undoes it. Every path, the bridge, the pod CIDR and the agent's port can be moved
# through the MOOR_* variables below (the end-to-end test runs a whole node in its own directories).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"

POD_CIDR=${MOOR_POD_CIDR:-10.244.0.0/24}
BRIDGE=${MOOR_BRIDGE:-moor0}
AGENT_PORT=${MOOR_AGENT_PORT:-10250}
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

# CNI: moor-bridge for the node's network, the reference loopback and portmap beside it.
for p in loopback portmap; do ln -sfn "/usr/lib/cni/$p" "$cni_bin/$p"; done
install -m 0755 dist/moor-bridge "$cni_bin/moor-bridge"
cat > "$cni_conf/10-moor.conflist.new" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "moor-$BRIDGE",
  "plugins": [
    {"type": "moor-bridge", "bridge": "$BRIDGE", "isGateway": true, "isDefaultGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"ranges": [[{"subnet": "$POD_CIDR"}]], "dataDir": "$MOOR_STATE_DIR/cni/networks"},
     "logFile": "$logs/moor-bridge.log"},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
mv "$cni_conf/10-moor.conflist.new" "$cni_conf/10-moor.conflist"

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

start_daemon agent "$MOOR_RUN_DIR/agent.pid" "$logs/agent.log" \
  node "$src/dist/moor.mjs" agent --container-runtime-endpoint "unix://$socket" \
  --pod-manifest-path "$manifests" --root-dir "$MOOR_STATE_DIR/agent" --pod-logs-dir "$pod_logs" --port "$AGENT_PORT"
for _ in $(seq 1 300); do
  if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$AGENT_PORT/healthz"; then break; fi
  [ -d "/proc/$(cat "$MOOR_RUN_DIR/agent.pid")" ] || die "moor agent exited; see $logs/agent.log"
  sleep 0.1
done
curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$AGENT_PORT/healthz" || die "moor agent did not become healthy; see $logs/agent.log"

[ "${MOOR_LINK_CLI:-1}" = 1 ] && ln -sfn "$src/bin/moor" /usr/local/bin/moor
log "node up: CRI unix://$socket, pod CIDR $POD_CIDR on $BRIDGE, agent http://127.0.0.1:$AGENT_PORT"
log "run a pod: put a Pod manifest into $manifests; see it: curl http://127.0.0.1:$AGENT_PORT/pods"
