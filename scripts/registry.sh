#!/usr/bin/env bash
# The local image registry (Debian's docker-registry) Moor pulls its images from, since no public
# registry is reachable. Own config and storage under $MOOR_STATE_DIR/registry, listening on
# $MOOR_REGISTRY_ADDR (127.0.0.1:5000). `stop` stops only the process whose pid this script recorded.
#   registry.sh start   -> prints "started" or "running" (already up, ours or not)
#   registry.sh stop    -> stops the registry this script started, if any
#   registry.sh status
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$MOOR_STATE_DIR/registry
pidfile=$MOOR_RUN_DIR/registry.pid
config=$dir/config.yml

up() { curl -fsS -o /dev/null --max-time 1 "http://$MOOR_REGISTRY_ADDR/v2/" 2>/dev/null; }

ours() {
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF "$config"
}

case "${1:-}" in
  start)
    if up; then echo running; exit 0; fi
    need_root
    mkdir -p "$dir/data" "$MOOR_RUN_DIR"
    cat > "$config" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $MOOR_REGISTRY_ADDR
YAML
    setsid docker-registry serve "$config" >>"$dir/registry.log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    for _ in $(seq 1 100); do
      if up; then echo started; exit 0; fi
      ours || die "registry exited at start; see $dir/registry.log"
      sleep 0.05
    done
    die "registry did not answer on $MOOR_REGISTRY_ADDR within 5 s; see $dir/registry.log"
    ;;
  stop)
    if ours; then
      pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
      [ -d "/proc/$pid" ] && kill -9 "$pid"
      rm -f "$pidfile"
      log "registry stopped"
    fi
    ;;
  status)
    if up; then echo "running on $MOOR_REGISTRY_ADDR"; else echo "not running"; exit 1; fi
    ;;
  *) die "usage: registry.sh start|stop|status" ;;
esac
