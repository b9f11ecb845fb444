#!/usr/bin/env bash
# Proves the README's commands as a user who is not root, as on GitHub's hosted runners: a new user
# in the docker group, with the Docker engine already running, runs `npm run verify:existing --
# --help` as the first command of a fresh copy (the pinned Node installed by the script itself), then
# `npm run drill` and `npm run report` (the workflow's run: steps; together they exercise set-up, the engine, the image
# cache, Vitest, Allure and the browser check) in a copy of the project it owns. `npm test` is not
# run again as that user: it would double CI's time and runs the same code paths as the drill.
# Run as root (it creates the user, and removes it and its files afterwards, also on failure);
# nothing is written into this checkout, so no root-owned file is left for later steps.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

say() { printf '[non-root] %s\n' "$*"; }
fail() { printf '[non-root] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run this check as root: it creates a user for the run (as a user yourself, just run 'npm run drill' and 'npm run report')."
getent group docker >/dev/null || fail "there is no docker group: the engine's socket must be reachable by a group for a non-root user (Debian's docker.io creates it)."
docker info >/dev/null 2>&1 || fail "no Docker engine answers; start it first ('bash scripts/setup.sh' as root)."

user="pgdrill-nonroot"
# A fresh home under /tmp, so the user's npm cache and browser profile go away with it.
home="$(mktemp -d /tmp/pgdrill-nonroot-XXXXXX)"
chmod 755 "$home"

cleanup() {
  local code=$?
  if id "$user" >/dev/null 2>&1; then
    # What the user left in shared temporary folders (Testcontainers' lock file, a browser profile).
    find /tmp /var/tmp /dev/shm -xdev -user "$user" -delete 2>/dev/null || true
    userdel "$user" 2>/dev/null || say "could not remove user $user (processes still running?): userdel $user"
  fi
  rm -rf "$home"
  exit $code
}
trap cleanup EXIT

if id "$user" >/dev/null 2>&1; then userdel "$user"; fi # a killed earlier check's
useradd --home-dir "$home/home" --create-home --groups docker --shell /bin/bash "$user"
project="$home/home/pg-dr-drill"
runuser -u "$user" -- mkdir "$project"
# The checkout as it is (tracked and new files, not node_modules or reports), unpacked by the user.
git ls-files --cached --others --exclude-standard -z | tar --null --files-from=- -cf - | runuser -u "$user" -- tar -xf - -C "$project"

# A clean login environment: nothing of root's (npm's, CI's) leaks in; the engine and base image
# settings of this run are kept, so the user reaches the same engine the same way.
as_user() {
  local keep=()
  for name in DOCKER_HOST PGDRILL_BASE_IMAGE PGDRILL_CHROMIUM; do
    if [ -n "${!name:-}" ]; then keep+=("$name=${!name}"); fi
  done
  runuser -u "$user" -- env -i HOME="$home/home" USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "${keep[@]}" \
    bash -c "cd '$project' && $1"
}

say "as $(as_user 'id -un'): uid $(id -u "$user"), groups $(id -Gn "$user")"
started=$SECONDS
# First command on a copy without node_modules, with the system's Node on PATH (20 on Debian 12):
# an entry point that needs no engine must still get the project's pinned Node by itself.
say "== npm run verify:existing -- --help (as $user, first command, system Node $(as_user 'node --version' 2>/dev/null || echo none) on PATH) =="
help="$(as_user "npm run --silent verify:existing -- --help")" || fail "'npm run verify:existing -- --help' failed as the first command on a fresh copy."
grep -q -- "--barman-ssh" <<<"$help" || fail "'npm run verify:existing -- --help' did not print the command's options: $help"
say "== npm run drill (as $user) =="
as_user "npm run drill"
say "== npm run report (as $user) =="
as_user "npm run report"
# What the user made is the user's: the check fails if anything needed root.
as_user 'test -s reports/report-overview.png && test -s reports/junit.xml && ! find . -path ./node_modules -prune -o ! -user "$(id -un)" -print | grep -q .' ||
  fail "the run as $user left no report screenshot, no JUnit report, or files it does not own."
say "npm run verify:existing -- --help, npm run drill and npm run report passed as $user in $((SECONDS - started)) s"
