#!/usr/bin/env bash
# A headless Chrome or Chromium for the report check (tests/report), driven by playwright-core.
# One already there is used: PGDRILL_CHROMIUM, else chromium, chromium-browser, google-chrome or
# google-chrome-stable on PATH (GitHub's hosted runners have Google Chrome); the same order as
# tests/report/find-browser.ts. Only where none is found, and only as root with apt, Debian's
# chromium is installed. Playwright's own browser download cannot work where only package
# registries are reachable, and is not needed.
set -Eeuo pipefail
if [ -n "${PGDRILL_CHROMIUM:-}" ]; then
  [ -x "$PGDRILL_CHROMIUM" ] && exit 0
  echo "[setup] ERROR: PGDRILL_CHROMIUM=$PGDRILL_CHROMIUM is not an executable file; point it at a Chrome or Chromium binary." >&2
  exit 1
fi
for name in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$name" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[setup] installing Debian's chromium for the report check (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
else
  echo "[setup] ERROR: no Chrome or Chromium found (PGDRILL_CHROMIUM, or chromium, chromium-browser, google-chrome, google-chrome-stable on PATH) and installing one needs root: run 'sudo apt-get install chromium' (Debian) or install Google Chrome, or set PGDRILL_CHROMIUM to a Chrome or Chromium binary." >&2
  exit 1
fi
