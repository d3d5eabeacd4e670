#!/usr/bin/env bash
# Provisions one VM of vagrant/Vagrantfile, as root inside the VM; running it again changes nothing
# that is already right.
#
#   provision.sh server NODE_NAME NODE_IP [AGENT_NODE_NAME...]
#   provision.sh agent  NODE_NAME NODE_IP SERVER_IP
#
# Both: Node.js 20 (Debian 12 ships 18), Debian packages (scripts/install-deps.sh), a copy of the
# source tree from /moor built inside the VM, then scripts/install.sh with moor-registry and Moor's
# images (every node pulls from its own 127.0.0.1:5000). The server also mints a node token for each
# node and puts it, the CA and an admin kubeconfig into the shared /moor-cluster; every agent, the
# server's own included, joins with `install.sh --join https://SERVER_IP:6443 --token ... --ca-file ...`.
set -euo pipefail

role=${1:-}
name=${2:-}
ip=${3:-}
shift 3 || true
case "$role" in server|agent) ;; *) echo "usage: provision.sh server|agent NODE_NAME NODE_IP ..." >&2; exit 2 ;; esac
[ -n "$name" ] && [ -n "$ip" ] || { echo "provision.sh: NODE_NAME and NODE_IP are required" >&2; exit 2; }

source_dir=/moor
src=/usr/local/src/moor
cluster=/moor-cluster
server_data=/var/lib/moor/server
log() { printf 'moor-provision: %s\n' "$*" >&2; }
die() { printf 'moor-provision: error: %s\n' "$*" >&2; exit 1; }
[ -f "$source_dir/scripts/install.sh" ] || die "the source tree is not mounted at $source_dir (see the synced folders in vagrant/Vagrantfile)"
[ -d "$cluster" ] || die "the shared join folder $cluster is not mounted"
export DEBIAN_FRONTEND=noninteractive

# step 1: Node.js 20 or later; Debian 12's nodejs is 18, so node 20 comes from the npm registry
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then
  command -v npm >/dev/null || { apt-get update -qq; apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
  npm install -g --no-audit --no-fund node@20 >/dev/null
  hash -r
  [ "$(node_major)" -ge 20 ] || die "node 20 did not install (node is $(node --version 2>&1))"
  log "installed node $(node --version)"
fi

# step 2: the source, copied so that npm ci and the build never write into the host's tree
mkdir -p "$src"
find "$src" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
tar -C "$source_dir" --exclude=./node_modules --exclude=./dist --exclude=./.git --exclude=./vagrant/.vagrant \
  --exclude=./vagrant/.cluster -cf - . | tar -C "$src" -xf -
cd "$src"

# step 3: Debian packages, npm packages, the build
bash scripts/install-deps.sh
# Debian's docker-registry package starts its own registry on :5000, the port of Moor's registry
if systemctl is-enabled --quiet docker-registry.service 2>/dev/null || systemctl is-active --quiet docker-registry.service; then
  systemctl disable --now docker-registry.service >/dev/null 2>&1
  log "disabled Debian's docker-registry.service (moor-registry serves 127.0.0.1:5000)"
fi
if [ "$role" = server ] && ! command -v kubectl >/dev/null; then
  apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
fi
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.moor-provisioned-lock; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.moor-provisioned-lock
fi
node scripts/build.mjs

# step 4: install, then join
if [ "$role" = server ]; then
  bash scripts/install.sh --role all --node-name "$name" --node-ip "$ip" --images --start
  log "waiting for moor server"
  for _ in $(seq 1 300); do
    [ -f "$server_data/pki/ca.crt" ] && curl -fsS --max-time 2 --cacert "$server_data/pki/ca.crt" "https://127.0.0.1:6443/readyz" >/dev/null 2>&1 && break
    sleep 1
  done
  curl -fsS --max-time 5 --cacert "$server_data/pki/ca.crt" "https://127.0.0.1:6443/readyz" >/dev/null || die "moor server is not ready after 5 minutes: journalctl -u moor-server"
  # One token per node: `token create` returns the node's existing token when it has one, and the
  # server re-reads its token file by itself.
  for node in "$name" "$@"; do
    moor server token create --node "$node" > "$cluster/$node.token.new"
    chmod 0600 "$cluster/$node.token.new"
    mv "$cluster/$node.token.new" "$cluster/$node.token"
  done
  cp "$server_data/pki/ca.crt" "$cluster/ca.crt.new" && mv "$cluster/ca.crt.new" "$cluster/ca.crt"
  echo "https://$ip:6443" > "$cluster/server-url"
  # admin.kubeconfig for kubectl on the host: the server's own, pointed at its private address
  sed "s|^\(\s*server:\s*\).*|\1https://$ip:6443|" "$server_data/admin.kubeconfig" > "$cluster/admin.kubeconfig.new"
  chmod 0600 "$cluster/admin.kubeconfig.new"
  mv "$cluster/admin.kubeconfig.new" "$cluster/admin.kubeconfig"
  bash scripts/install.sh --role all --node-name "$name" --node-ip "$ip" --images --start \
    --join "https://$ip:6443" --token "$(cat "$cluster/$name.token")" --ca-file "$server_data/pki/ca.crt"
else
  server_ip=${1:-}
  [ -n "$server_ip" ] || die "an agent needs SERVER_IP"
  log "waiting for the server's join material in $cluster"
  for _ in $(seq 1 600); do
    [ -s "$cluster/$name.token" ] && [ -s "$cluster/ca.crt" ] && break
    sleep 1
  done
  [ -s "$cluster/$name.token" ] && [ -s "$cluster/ca.crt" ] || die "no token for $name in $cluster after 10 minutes: provision the server first (vagrant provision server)"
  bash scripts/install.sh --role agent --node-name "$name" --node-ip "$ip" --images --start \
    --join "https://$server_ip:6443" --token "$(cat "$cluster/$name.token")" --ca-file "$cluster/ca.crt"
fi
log "$name ($role, $ip) provisioned: systemctl status moor-agent; journalctl -u moor-agent"
