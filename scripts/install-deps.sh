#!/usr/bin/env bash
# Installs what Moor needs from Debian 12's packages, and only what is missing: running it twice
# changes nothing. Node.js itself is the machine's own (20.x); npm packages come from `npm ci`.
#   install-deps.sh          what a node needs (up.sh, install.sh, the Vagrant VMs)
#   install-deps.sh --test   that plus what only the test suite uses (scripts/test.sh)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root

packages=(
  containerd runc                 # the container runtime the agent drives through CRI
  iptables iproute2 util-linux    # moor-bridge: iptables-restore, ip, nsenter
  busybox-static gcc libc6-dev    # Moor's images: busybox, and the static pause program
  docker-registry skopeo          # the local registry on 127.0.0.1 and pushing images into it
  containernetworking-plugins     # reference CNI plugins: loopback, portmap, and the benchmark peer
  etcd-server                     # the store for clusters that outgrow one machine (and its tests)
  openssl ca-certificates         # the control plane's CA and serving certificates
  make g++ python3                # native npm modules (better-sqlite3) build from source
  procps psmisc curl              # ps for the scripts' checks; curl for health checks
)
if [ "${1:-}" = "--test" ]; then
  packages+=(
    systemd                       # systemd-analyze verify on Moor's units (works without systemd as PID 1)
    vagrant vagrant-libvirt       # vagrant validate on vagrant/Vagrantfile, VirtualBox and libvirt blocks (no VM is booted)
  )
elif [ -n "${1:-}" ]; then
  die "usage: install-deps.sh [--test]"
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "system packages: all present"
  exit 0
fi
log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed: ${missing[*]}"
# Moor needs etcd's binary (for clusters that choose it, and the store tests), not Debian's own
# etcd service on 127.0.0.1:2379: on a systemd host, stop the service the package just started.
if [[ " ${missing[*]} " == *" etcd-server "* ]] && [ -d /run/systemd/system ]; then
  systemctl disable --now etcd >/dev/null 2>&1 || true
  log "disabled Debian's etcd.service (installed for its binary only)"
fi
