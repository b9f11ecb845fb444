#!/usr/bin/env bash
# promtool and the Pushgateway for the Prometheus output's tests (tests/unit/prometheus.test.ts
# lints the rendered metrics with promtool, tests/unit/pushgateway.test.ts pushes to a real
# Pushgateway it starts itself). Debian's packages `prometheus` (which ships promtool) and
# `prometheus-pushgateway` are installed when missing, as root on Debian only; their services are
# never started: the tests run their own Pushgateway on a free port, and nothing is left running.
# Safe to run again: does nothing when both commands are there.
set -Eeuo pipefail

say() { printf '[setup] %s\n' "$*"; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# Debian installs the Pushgateway as prometheus-pushgateway, upstream's archive as pushgateway.
have_pushgateway() { command -v prometheus-pushgateway >/dev/null 2>&1 || command -v pushgateway >/dev/null 2>&1; }
if command -v promtool >/dev/null 2>&1 && have_pushgateway; then exit 0; fi

if [ "$(id -u)" != 0 ] || [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
  fail "promtool and the Pushgateway are needed for the Prometheus tests and installing them needs root on Debian: run 'sudo apt-get install --no-install-recommends prometheus prometheus-pushgateway' (Debian, Ubuntu) or put promtool and pushgateway from https://prometheus.io/download/ on PATH, then run this command again."
fi

# The packages' postinst scripts start their daemons through invoke-rc.d; a policy-rc.d answering
# 101 forbids that. One already there (Debian container images ship one) is left as it is; one we
# add is removed again, also when the installation fails.
policy=/usr/sbin/policy-rc.d
added_policy=false
remove_added_policy() { if $added_policy; then rm -f "$policy"; fi; }
trap remove_added_policy EXIT
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# Added by pgdrill scripts/setup-prometheus.sh while it installs packages: start no services.\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  added_policy=true
fi

daemons_running() { pgrep -x prometheus 2>/dev/null || true; pgrep -x prometheus-pushgateway 2>/dev/null || true; pgrep -x pushgateway 2>/dev/null || true; }
running_before="$(daemons_running)"

say "installing Debian's prometheus (for promtool) and prometheus-pushgateway (apt-get; their services stay stopped)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-pushgateway >/dev/null

# A daemon started anyway (a policy-rc.d that allows starting, an init system after all) is stopped
# by its process id; daemons that ran before this script are not ours to stop.
for pid in $(daemons_running); do
  if ! grep -qx "$pid" <<<"$running_before"; then
    say "stopping $(cat "/proc/$pid/comm" 2>/dev/null || echo daemon) (pid $pid) that the package installation started"
    kill "$pid" 2>/dev/null || true
  fi
done

command -v promtool >/dev/null 2>&1 || fail "the prometheus package is installed but promtool is not on PATH."
have_pushgateway || fail "the prometheus-pushgateway package is installed but prometheus-pushgateway is not on PATH."
say "promtool $(promtool --version 2>&1 | head -n 1 | awk '{print $3}') and the Pushgateway are installed"
