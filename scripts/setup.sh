#!/usr/bin/env bash
# Prepares this machine for the drill: Node 24 dependencies and a Docker engine.
# Images are built (and cached) by the drill itself, see containers/images.ts.
# Safe to run again: every step checks first and does nothing when already done.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. Node dependencies (Node 24 comes from the `node` devDependency) -------------------------
bash scripts/ensure-node.sh

# --- 1b. promtool and a Pushgateway, which the nightly verification's Prometheus tests use -------
# Installed as root on Debian; elsewhere one line says what to install, and everything else (the
# drill, the nightly verification itself) still runs without them.
bash scripts/setup-prometheus.sh || say "continuing: only the Prometheus tests (tests/unit/prometheus.test.ts, pushgateway.test.ts) need them"

# A run's report holds that run's results only (history is kept by the report, not here).
rm -rf reports/allure-results

# --- 2. Docker engine -----------------------------------------------------------------------------
# Probed with the drill's own client (scripts/engine-ping.mjs): 0 answers, 2 refuses this user, 1 none.
engine_state() {
  local code=0
  node_modules/.bin/node scripts/engine-ping.mjs >/dev/null 2>&1 || code=$?
  echo "$code"
}
engine_answers() { [ "$(engine_state)" = 0 ]; }
budget_s="${PGDRILL_BUDGET_ENGINE_START_S:-60}"
[[ "$budget_s" =~ ^[1-9][0-9]*$ ]] || fail "PGDRILL_BUDGET_ENGINE_START_S must be a positive whole number of seconds, got '$budget_s'."

state="$(engine_state)"
# An engine that runs but refuses this user (not in the docker group): say so, installing or
# starting another one would not help.
if [ "$state" = 2 ]; then
  fail "The Docker engine (DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}) refuses user $(id -un): add it to the docker group ('sudo usermod -aG docker $(id -un)', then log in again) and run this command again."
fi

if [ "$state" != 0 ]; then
  # A DOCKER_HOST elsewhere (tcp://, ssh://: a remote engine, GitLab's docker:dind) is an engine to
  # reach, not one to start here.
  case "${DOCKER_HOST:-unix://}" in
    unix://*) ;;
    *) fail "No Docker engine answers at DOCKER_HOST=$DOCKER_HOST; start it (for GitLab, the docker:dind service) or correct DOCKER_HOST, then run this command again." ;;
  esac
  can_install=false
  if [ "$(uname -s)" = Linux ] && [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null; then
    can_install=true
  fi
  if ! $can_install; then
    fail "No Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}); start Docker (for example 'sudo systemctl start docker' or Docker Desktop) and run this command again."
  fi
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v mmdebstrap >/dev/null 2>&1; then
    say "installing Debian's docker.io and mmdebstrap (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io mmdebstrap >/dev/null
  fi
  say "starting dockerd (log: /var/log/pgdrill-dockerd.log)"
  # setsid + nohup: the engine must outlive this script, the next command (npm test) uses it too.
  # Appended, not overwritten: the log of the engine an earlier (failed) run used stays readable.
  printf '\n=== dockerd started by scripts/setup.sh at %s ===\n' "$(date -u +%FT%TZ)" >>/var/log/pgdrill-dockerd.log
  setsid nohup dockerd >>/var/log/pgdrill-dockerd.log 2>&1 < /dev/null &
  deadline=$((SECONDS + budget_s))
  until engine_answers; do
    if [ $SECONDS -ge $deadline ]; then
      tail -n 20 /var/log/pgdrill-dockerd.log >&2 || true
      fail "dockerd did not answer within ${budget_s}s (PGDRILL_BUDGET_ENGINE_START_S); see /var/log/pgdrill-dockerd.log."
    fi
    sleep 0.2 # polling the engine's socket, bounded by the budget above
  done
  say "Docker engine $(docker version --format '{{.Server.Version}}') is up"
fi

# mmdebstrap builds the local base image; only needed where no registry gives debian:bookworm-slim.
if ! command -v mmdebstrap >/dev/null 2>&1 && [ -z "${PGDRILL_BASE_IMAGE:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing mmdebstrap (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
  fi
fi
