#!/usr/bin/env bash
# The Barman server has no daemon of its own: work happens through `barman` commands run with
# `docker exec`. PID 1 only fixes ownership of the files copied in and stays until stopped.
set -Eeuo pipefail
if [ -f /var/lib/barman/.pgpass ]; then
  chown barman:barman /var/lib/barman/.pgpass
  chmod 0600 /var/lib/barman/.pgpass
fi
chown -R barman:barman /etc/barman.d
# sshd for the primary's archive_command (barman-wal-archive): keys only, host keys made per container.
ssh-keygen -A >/dev/null
install -d -m 0755 /run/sshd
/usr/sbin/sshd -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o PermitRootLogin=no
echo "barman server ready: $(barman --version 2>&1 | head -n 1)"
trap 'exit 0' TERM INT
sleep infinity &
wait $!
