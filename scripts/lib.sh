# Shared settings for Moor's shell scripts. Sourced, never run.
# Every path and address can be overridden from the environment.
MOOR_STATE_DIR=${MOOR_STATE_DIR:-/var/lib/moor}
MOOR_RUN_DIR=${MOOR_RUN_DIR:-/run/moor}
MOOR_REGISTRY_ADDR=${MOOR_REGISTRY_ADDR:-127.0.0.1:5000}
MOOR_IMAGE_REPO=${MOOR_IMAGE_REPO:-$MOOR_REGISTRY_ADDR/moor}

log() { printf 'moor: %s\n' "$*" >&2; }
die() { printf 'moor: error: %s\n' "$*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo bash $0)"; }
