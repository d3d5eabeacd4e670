#!/usr/bin/env bash
# Undoes scripts/up.sh: stops the agent and the server, removes every pod of Moor's containerd (containers,
# sandboxes, CNI state: addresses, veths, NAT rules), stops that containerd, deletes the node's
# bridge, and stops the local registry if up.sh started it. Keeps images, configuration and data
# unless --purge is given. Takes the same MOOR_* variables as up.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
src=$(cd "$(dirname "$0")/.." && pwd)
BRIDGE=${MOOR_BRIDGE:-moor0}
etc=${MOOR_ETC_DIR:-/etc/moor}
cni_bin=${MOOR_CNI_BIN_DIR:-/opt/moor/cni/bin}
logs=${MOOR_LOG_DIR:-/var/log/moor}
socket=$MOOR_RUN_DIR/containerd/containerd.sock

# stop_daemon NAME PIDFILE MARKER: SIGTERM the process our pid file names, if its command line
# carries MARKER (never a process this script did not start), and wait for it.
stop_daemon() {
  local name=$1 pidfile=$2 marker=$3 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -d "/proc/$pid" ]; then
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$marker" || die "pid $pid in $pidfile is not Moor's $name; not stopping it"
    kill "$pid"
    for _ in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    [ -d "/proc/$pid" ] && kill -9 "$pid"
    log "$name stopped"
  fi
  rm -f "$pidfile"
}

# The agent first, so it does not restart what is taken away; its pods outlive it.
stop_daemon agent "$MOOR_RUN_DIR/agent.pid" "$MOOR_STATE_DIR/agent"
stop_daemon server "$MOOR_RUN_DIR/server.pid" "$MOOR_STATE_DIR/server"
if [ -f "$MOOR_RUN_DIR/containerd.pid" ] && [ -d "/proc/$(cat "$MOOR_RUN_DIR/containerd.pid")" ]; then
  node "$src/dist/moor.mjs" cri --container-runtime-endpoint "unix://$socket" remove-all-pods >/dev/null || log "warning: could not remove every pod"
fi
stop_daemon containerd "$MOOR_RUN_DIR/containerd.pid" "$etc/containerd/config.toml"
if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; log "bridge $BRIDGE removed"; fi
if [ -f "$MOOR_RUN_DIR/registry.started-by-up" ]; then
  bash "$src/scripts/registry.sh" stop
  rm -f "$MOOR_RUN_DIR/registry.started-by-up"
fi
if [ "${1:-}" = "--purge" ]; then
  # Pod netns and rootfs mounts are gone with the pods; anything still mounted below is a bug to see.
  rm -rf "$MOOR_STATE_DIR/containerd" "$MOOR_STATE_DIR/agent" "$MOOR_STATE_DIR/server" "$MOOR_STATE_DIR/cni" "$etc" "$cni_bin" "$MOOR_RUN_DIR/containerd" "$logs"
  # The IPAM directory of the node's network (the agent names it after the bridge): empty once the
  # pods are gone, but for its lock and round-robin files.
  if [ "$BRIDGE" = moor0 ]; then network=moor; else network=moor-$BRIDGE; fi
  rm -rf "/var/lib/cni/networks/$network"
  rmdir "$MOOR_RUN_DIR" 2>/dev/null || true   # kept while it holds a registry this script did not start
  if [ "${MOOR_LINK_CLI:-1}" = 1 ] && [ "$(readlink /usr/local/bin/moor 2>/dev/null)" = "$src/bin/moor" ]; then rm -f /usr/local/bin/moor; fi
  log "purged the node's state and configuration (images and registry data kept in $MOOR_STATE_DIR)"
fi
