#!/usr/bin/env bash
# Undoes scripts/up.sh: removes every pod of Moor's containerd (containers, sandboxes, CNI state),
# stops that containerd and the local registry if up.sh started them. Keeps images and
# configuration unless --purge is given, which also removes /var/lib/moor, /etc/moor and /opt/moor.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
src=$(cd "$(dirname "$0")/.." && pwd)
socket=$MOOR_RUN_DIR/containerd/containerd.sock
pidfile=$MOOR_RUN_DIR/containerd.pid

if [ -f "$pidfile" ] && [ -d "/proc/$(cat "$pidfile")" ]; then
  pid=$(cat "$pidfile")
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q '/etc/moor/containerd/config.toml' || die "pid $pid in $pidfile is not Moor's containerd; not stopping it"
  node "$src/dist/moor.mjs" cri --container-runtime-endpoint "unix://$socket" remove-all-pods >/dev/null || log "warning: could not remove every pod"
  kill "$pid"
  for _ in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  [ -d "/proc/$pid" ] && kill -9 "$pid"
  rm -f "$pidfile"
  log "containerd stopped"
fi
ip link show moor0 >/dev/null 2>&1 && ip link del moor0 && log "bridge moor0 removed"
if [ -f "$MOOR_RUN_DIR/registry.started-by-up" ]; then
  bash "$src/scripts/registry.sh" stop
  rm -f "$MOOR_RUN_DIR/registry.started-by-up"
fi
if [ "${1:-}" = "--purge" ]; then
  rm -rf "$MOOR_STATE_DIR" /etc/moor /opt/moor "$MOOR_RUN_DIR"
  [ "$(readlink /usr/local/bin/moor)" = "$src/bin/moor" ] && rm -f /usr/local/bin/moor
  log "purged Moor's state and configuration"
fi
