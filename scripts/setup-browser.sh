#!/usr/bin/env bash
# Headless Chromium for the report check (tests/report): Debian's chromium package, driven by
# playwright-core. Playwright's own browser download cannot work where only package registries
# are reachable, and is not needed.
set -Eeuo pipefail
chromium_bin="${PGDRILL_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$chromium_bin" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[setup] installing Debian's chromium for the report check (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
else
  echo "[setup] ERROR: no Chromium at $chromium_bin; install Debian's 'chromium' package or set PGDRILL_CHROMIUM to a Chromium binary." >&2
  exit 1
fi
