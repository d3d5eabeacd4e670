#!/usr/bin/env bash
# Brings up a Moor node on this machine: `sudo bash scripts/up.sh`. Installs what is missing, builds,
# builds and serves Moor's images from the local registry, writes the node's containerd and CNI
# configuration under /etc/moor, starts Moor's own containerd (socket /run/moor/containerd/containerd.sock,
# never the host's /run/containerd), waits until its CRI answers, and links `moor` into /usr/local/bin.
# Idempotent: a second run finds everything up and changes nothing. `scripts/down.sh` undoes it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"

POD_CIDR=${MOOR_POD_CIDR:-10.244.0.0/24}
etc=/etc/moor
cri_root=$MOOR_STATE_DIR/containerd
cri_state=$MOOR_RUN_DIR/containerd
socket=$cri_state/containerd.sock
cni_bin=/opt/moor/cni/bin
cni_conf=$etc/cni/net.d
logs=/var/log/moor

bash scripts/install-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
# Remember whether this node started the registry, so that down.sh stops only what up.sh started.
if [ "$(bash scripts/registry.sh start)" = started ]; then
  mkdir -p "$MOOR_RUN_DIR" && touch "$MOOR_RUN_DIR/registry.started-by-up"
fi
bash scripts/images.sh

mkdir -p "$etc/containerd/certs.d/${MOOR_REGISTRY_ADDR}" "$cni_bin" "$cni_conf" "$cri_root" "$cri_state" "$logs"
moor() { node "$src/dist/moor.mjs" "$@"; }
moor containerd config --root "$cri_root" --state "$cri_state" --socket "$socket" \
  --cni-bin-dir "$cni_bin" --cni-conf-dir "$cni_conf" --registry-config-dir "$etc/containerd/certs.d" \
  > "$etc/containerd/config.toml.new"
mv "$etc/containerd/config.toml.new" "$etc/containerd/config.toml"
moor containerd registry-hosts "$MOOR_REGISTRY_ADDR" > "$etc/containerd/certs.d/${MOOR_REGISTRY_ADDR}/hosts.toml"

# CNI: the reference loopback and portmap next to moor-bridge; the node's network on moor-bridge.
for p in loopback portmap host-local bandwidth tuning; do ln -sfn "/usr/lib/cni/$p" "$cni_bin/$p"; done
if [ -x dist/moor-bridge ]; then
  install -m 0755 dist/moor-bridge "$cni_bin/moor-bridge"
  plugin='{"type": "moor-bridge", "bridge": "moor0", "isGateway": true, "ipMasq": true, "ipam": {"ranges": [[{"subnet": "'"$POD_CIDR"'"}]]}}'
else
  # Until moor-bridge is built, the reference bridge plugin serves the node's network.
  ln -sfn /usr/lib/cni/bridge "$cni_bin/bridge"
  plugin='{"type": "bridge", "bridge": "moor0", "isGateway": true, "ipMasq": true, "ipam": {"type": "host-local", "ranges": [[{"subnet": "'"$POD_CIDR"'"}]]}}'
fi
cat > "$cni_conf/10-moor.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "moor",
  "plugins": [
    $plugin,
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON

pidfile=$MOOR_RUN_DIR/containerd.pid
if [ -f "$pidfile" ] && [ -d "/proc/$(cat "$pidfile")" ]; then
  log "containerd already running (pid $(cat "$pidfile"))"
else
  setsid containerd --config "$etc/containerd/config.toml" >>"$logs/containerd.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  log "containerd started (pid $!, log $logs/containerd.log)"
fi
for _ in $(seq 1 200); do
  if moor cri --container-runtime-endpoint "unix://$socket" status >/dev/null 2>&1; then break; fi
  [ -d "/proc/$(cat "$pidfile")" ] || die "containerd exited; see $logs/containerd.log"
  sleep 0.1
done
moor cri --container-runtime-endpoint "unix://$socket" status >/dev/null || die "containerd's CRI did not become ready; see $logs/containerd.log"

ln -sfn "$src/bin/moor" /usr/local/bin/moor
log "node up: CRI at unix://$socket, pod CIDR $POD_CIDR, images at $MOOR_IMAGE_REPO"
log "try: moor cri --container-runtime-endpoint unix://$socket status"
