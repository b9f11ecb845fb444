#!/usr/bin/env bash
# A compact take on the official postgres image's entrypoint: same variables, same behaviour
# for what the drill uses. An existing PGDATA (e.g. one written by `barman recover`) is started
# as it is, never initialised.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

# Opt-in (not part of the official contract): sshd for Barman's backup_method = rsync.
# tini becomes PID 1 first: the postmaster must not be the parent that reaps sshd's sessions
# (it would take their exit for a crashed backend and restart the whole server).
if [ "${PGDRILL_SSHD:-}" = 1 ] && [ "$(id -u)" = 0 ] && [ "$$" = 1 ]; then
  exec tini -- "$BASH_SOURCE" "$@"
fi
if [ "${PGDRILL_SSHD:-}" = 1 ] && [ "$(id -u)" = 0 ]; then
  ssh-keygen -A >/dev/null
  install -d -m 0755 /run/sshd
  /usr/sbin/sshd -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o PermitRootLogin=no
fi

# Opt-in (not part of the official contract): Debian's own layout, as pg_createcluster makes it on
# the most common production install: the configuration in /etc/postgresql/<major>/main
# (postgresql.conf with data_directory, hba_file, ident_file, include_dir 'conf.d'), PGDATA in
# /var/lib/postgresql/<major>/main. A new cluster is made there with pg_createcluster. A data
# directory that exists already (one `barman recover` wrote) keeps its place: it gets what a
# recovery host set up with the same pg_createcluster has, a configuration pointed at it
# (data_directory). Either way the server reads /etc's postgresql.conf, never one in PGDATA.
if [ "$1" = postgres ] && [ "$(id -u)" = 0 ] && [ "${PGDRILL_LAYOUT:-}" = debian ]; then
  debian_etc="/etc/postgresql/$PG_MAJOR/main"
  if [ ! -e "$debian_etc/postgresql.conf" ]; then
    if [ -s "$PGDATA/PG_VERSION" ]; then
      scratch=/var/lib/postgresql/pgdrill-scratch
      pg_createcluster "$PG_MAJOR" main -d "$scratch" --start-conf=manual -- --no-sync >/dev/null
      rm -rf "$scratch"
      sed -i "s|^data_directory = .*|data_directory = '$PGDATA'|" "$debian_etc/postgresql.conf"
    else
      : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (the image refuses to create a superuser without one)}"
      export PGDATA="/var/lib/postgresql/$PG_MAJOR/main"
      pwfile="$(mktemp)"
      printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
      chown postgres "$pwfile"
      # Debian's own authentication defaults (createcluster.conf: peer locally, scram-sha-256 on TCP).
      pg_createcluster "$PG_MAJOR" main --start-conf=manual -- --username="${POSTGRES_USER:-postgres}" \
        --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-} >/dev/null
      rm -f "$pwfile"
      if [ "${POSTGRES_DB:-postgres}" != postgres ]; then
        printf 'CREATE DATABASE "%s"\n' "${POSTGRES_DB//\"/\"\"}" |
          setpriv --reuid=postgres --regid=postgres --init-groups postgres --single -D "$debian_etc" postgres >/dev/null
      fi
    fi
    # What a DBA adds for Barman and the application: connections from the network.
    printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$debian_etc/pg_hba.conf"
    if [ "${PGDRILL_REPLICATION_HBA:-}" = 1 ]; then
      printf 'host replication all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$debian_etc/pg_hba.conf"
    fi
    echo "pgdrill: Debian layout: configuration $debian_etc, data $PGDATA"
  fi
  export PGDATA="$(sed -n "s/^data_directory = '\(.*\)'.*/\1/p" "$debian_etc/postgresql.conf")"
  set -- "$@" -c "config_file=$debian_etc/postgresql.conf"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  # An SSH identity copied in for the postgres user (WAL fetched from Barman with barman-wal-restore).
  if [ -d /var/lib/postgresql/.ssh ]; then chown -R postgres:postgres /var/lib/postgresql/.ssh; chmod -R go-rwx /var/lib/postgresql/.ssh; fi
  # Files written by another uid (barman recover runs as the barman user) become postgres's,
  # and PostgreSQL insists on 0700 for its data directory.
  install -d -o postgres -g postgres -m 0700 "$PGDATA"
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (the image refuses to create a superuser without one)}"
  export POSTGRES_USER="${POSTGRES_USER:-postgres}"
  export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-}
  printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"
  # Opt-in (not part of the official contract): streaming replication connections too, for
  # Barman's pg_basebackup and pg_receivewal ("host all" does not match them).
  if [ "${PGDRILL_REPLICATION_HBA:-}" = 1 ]; then
    printf 'host replication all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"
  fi

  init_scripts=(/docker-entrypoint-initdb.d/*)
  if [ -e "${init_scripts[0]}" ]; then
    # Temporary server on the socket only, as the official image does, for the init scripts.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    export PGUSER="$POSTGRES_USER"
    if [ "$POSTGRES_DB" != postgres ]; then
      psql -v ON_ERROR_STOP=1 --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for f in "${init_scripts[@]}"; do
      case "$f" in
        *.sh)  echo "running $f"; . "$f" ;;
        *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --dbname "$POSTGRES_DB" -f "$f" ;;
        *)     echo "ignoring $f" ;;
      esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
  elif [ "$POSTGRES_DB" != postgres ]; then
    # No init scripts: the database alone, in single-user mode, without a server to start and stop.
    printf 'CREATE DATABASE "%s"\n' "${POSTGRES_DB//\"/\"\"}" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo 'PostgreSQL init process complete; ready for start up.'
fi

# Opt-in (the nightly verification): the restored copy checked against its backup manifest before
# PostgreSQL touches it, with this image's own pg_verifybackup (the Barman host may have none, and
# Barman cannot check a compressed tar backup). The files Barman's restore changes or adds are
# named in PGDRILL_VERIFY_IGNORE; WAL is proven by the replay, not parsed here. The verdict is one
# "pgdrill:" line on the log, and a copy that does not match never starts.
if [ "$1" = postgres ] && [ -n "${PGDRILL_VERIFY_MANIFEST:-}" ]; then
  ignore=()
  for path in ${PGDRILL_VERIFY_IGNORE:-}; do ignore+=(--ignore="$path"); done
  if said="$(pg_verifybackup --no-parse-wal --manifest-path="$PGDRILL_VERIFY_MANIFEST" "${ignore[@]}" "$PGDATA" 2>&1)"; then
    echo "pgdrill: copy verification: ${said:-verified}"
  else
    printf '%s\n' "$said" | sed 's/^/pgdrill: pg_verifybackup: /'
    echo "pgdrill: copy verification FAILED: the restored copy does not match its backup manifest"
    exit 3
  fi
fi

# Opt-in (the nightly verification): a clean shutdown (pg_ctl stop) leaves the container running,
# so that pg_checksums, which refuses a cluster that was not shut down cleanly, can read the copy.
# A server that fails to start still ends the container with its status.
if [ "$1" = postgres ] && [ "${PGDRILL_STAY_AFTER_STOP:-}" = 1 ]; then
  status=0
  "$@" || status=$?
  if [ "$status" != 0 ]; then exit "$status"; fi
  echo "pgdrill: PostgreSQL shut down cleanly"
  exec sleep infinity
fi

exec "$@"
