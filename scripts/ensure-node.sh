#!/usr/bin/env bash
# Makes the project's pinned Node (24, the `node` devDependency) and its dependencies ready, so that
# every npm script works as the first command on a fresh clone: npm puts node_modules/.bin first on
# a script's PATH, but only once `npm ci` has filled it; before that, `node` is the system's (20 on
# Debian 12), which does not know --experimental-transform-types. Does nothing when already done.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/vitest ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  printf '[setup] installing npm dependencies (npm ci)\n' >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

node_version="$(node_modules/.bin/node --version)"
case "$node_version" in
  v24.*) ;;
  *)
    printf "[setup] ERROR: the project's Node should be 24.x, node_modules/.bin/node is %s; run 'rm -rf node_modules && npm ci'.\n" "$node_version" >&2
    exit 1
    ;;
esac
