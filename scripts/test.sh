#!/usr/bin/env bash
# The whole test suite, set-up included: `sudo bash scripts/test.sh` on a fresh Debian 12 machine.
# Installs what is missing (scripts/install-deps.sh), installs npm packages, builds, type-checks,
# starts the local image registry with Moor's images, then runs every test under test/ with tap.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

bash scripts/install-deps.sh --test
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# tap compiles its plugin set into node_modules: rebuild it from package.json's "tap" section
# (which drops tap's ts-node plugin in favour of tsx).
npx tap build >/dev/null
npm run --silent build
npm run --silent typecheck

# The registry stays up only for the run, unless it was already up (e.g. for a node from up.sh).
if [ "$(bash scripts/registry.sh start)" = started ]; then
  trap 'bash scripts/registry.sh stop' EXIT
fi
bash scripts/images.sh

# tap takes files or globs: a directory argument means every *.test.ts below it.
if [ $# -eq 0 ]; then set -- test; fi
args=()
for a in "$@"; do
  if [ -d "$a" ]; then args+=("${a%/}/**/*.test.ts"); else args+=("$a"); fi
done
npx tap "${args[@]}"
echo "suite took $(( $(date +%s) - started )) s"
