#!/usr/bin/env bash
# Installs the moor-bridge CNI plugin and, when given a pod CIDR, the node's network config.
#
#   scripts/install-cni.sh [--bin-dir /opt/cni/bin] [--plugin dist/moor-bridge]
#                          [--conf-dir /etc/cni/net.d --pod-cidr 10.244.1.0/24
#                           [--name moor] [--bridge moor0] [--mtu 1500] [--no-masq]
#                           [--data-dir /var/lib/cni/networks] [--log-file /var/log/moor/moor-bridge.log]]
#
# - copies the plugin (built by `npm run build` if missing) into the bin dir atomically, with its
#   shebang pointing at this machine's node;
# - links the reference loopback and portmap plugins from /usr/lib/cni into the bin dir when absent
#   there (containerd needs loopback; the node conflist chains portmap for hostPort);
# - with --pod-cidr, writes <conf-dir>/10-moor.conflist atomically: moor-bridge (gateway, default
#   route, masquerade, hairpin, built-in IPAM on the pod CIDR) followed by portmap.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=/opt/cni/bin
plugin=dist/moor-bridge
conf_dir=/etc/cni/net.d
pod_cidr=''
name=moor
bridge=moor0
mtu=''
masq=true
data_dir=''
log_file=''
reference_dir=/usr/lib/cni

die() { echo "install-cni: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir=$2; shift 2 ;;
    --plugin) plugin=$2; shift 2 ;;
    --conf-dir) conf_dir=$2; shift 2 ;;
    --pod-cidr) pod_cidr=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --bridge) bridge=$2; shift 2 ;;
    --mtu) mtu=$2; shift 2 ;;
    --no-masq) masq=false; shift ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --log-file) log_file=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

node_bin=$(command -v node) || die "node not found in PATH"
if [ ! -f "$plugin" ]; then
  [ "$plugin" = dist/moor-bridge ] || die "plugin $plugin does not exist"
  echo "install-cni: building dist/moor-bridge"
  node scripts/build.mjs
fi

# The plugin, with the shebang rewritten to this machine's node (NODE_EXTRA_CA_CERTS and
# NODE_OPTIONS stay dropped: the plugin needs neither and the first costs ~40 ms of start-up).
mkdir -p "$bin_dir"
tmp=$(mktemp "$bin_dir/.moor-bridge.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo "#!/usr/bin/env -S -u NODE_OPTIONS -u NODE_EXTRA_CA_CERTS $node_bin"
  tail -n +2 "$plugin"
} > "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$bin_dir/moor-bridge"
trap - EXIT
echo "install-cni: installed $bin_dir/moor-bridge"

for ref in loopback portmap; do
  if [ ! -e "$bin_dir/$ref" ] && [ -x "$reference_dir/$ref" ] && [ "$bin_dir" != "$reference_dir" ]; then
    ln -s "$reference_dir/$ref" "$bin_dir/$ref"
    echo "install-cni: linked $bin_dir/$ref -> $reference_dir/$ref"
  fi
done

[ -n "$pod_cidr" ] || exit 0

# Validate before writing: a broken conflist would take the node's pod network down.
[[ "$pod_cidr" =~ ^[0-9a-fA-F.:]+/[0-9]{1,3}$ ]] || die "--pod-cidr $pod_cidr is not a CIDR"
[[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "--name $name has invalid characters"
[[ "$bridge" =~ ^[A-Za-z0-9_.@+-]{1,15}$ ]] || die "--bridge $bridge is not a valid interface name"
[ -z "$mtu" ] || [[ "$mtu" =~ ^[0-9]+$ ]] || die "--mtu $mtu is not a number"

ipam="{ \"ranges\": [[{ \"subnet\": \"$pod_cidr\" }]]${data_dir:+, \"dataDir\": \"$data_dir\"} }"
mkdir -p "$conf_dir"
cat > "$conf_dir/.10-moor.conflist.tmp" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$name",
  "plugins": [
    {
      "type": "moor-bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "isDefaultGateway": true,
      "ipMasq": $masq,
      "hairpinMode": true,${mtu:+
      \"mtu\": $mtu,}${log_file:+
      \"logFile\": \"$log_file\",}
      "ipam": $ipam
    },
    {
      "type": "portmap",
      "capabilities": { "portMappings": true },
      "snat": true
    }
  ]
}
EOF
# the plugin validates the same config a runtime will send it (cniVersion and name injected)
check=$(node -e '
  const list = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  process.stdout.write(JSON.stringify({ ...list.plugins[0], cniVersion: "1.1.0", name: list.name }));
' "$conf_dir/.10-moor.conflist.tmp")
if ! out=$(printf '%s' "$check" | CNI_COMMAND=STATUS "$bin_dir/moor-bridge"); then
  case "$out" in
    *'"code":50'*) ;; # valid config; the node cannot serve ADDs yet (e.g. the store directory)
    *) rm -f "$conf_dir/.10-moor.conflist.tmp"; die "the generated config is rejected: $out" ;;
  esac
fi
mv -f "$conf_dir/.10-moor.conflist.tmp" "$conf_dir/10-moor.conflist"
echo "install-cni: wrote $conf_dir/10-moor.conflist for $pod_cidr"
