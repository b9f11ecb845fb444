#!/bin/sh
# Starts dockerd inside a container that is not --privileged (see remote-engine.test.ts for why).
# Docker mounts /sys and the cgroup hierarchies read-only there, and the inner engine must create
# cgroups for its own containers, so they are made writable first (CAP_SYS_ADMIN allows it).
set -eu
mount -o remount,rw /sys
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  # cgroup v2 (as moby's hack/dind does): the container's own cgroup namespace; move this shell
  # into a leaf so the root can delegate every controller to the inner engine's containers.
  # (Not exercised here: this machine has cgroup v1.)
  mount -o remount,rw /sys/fs/cgroup
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
  sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control
else
  for hierarchy in /sys/fs/cgroup/*; do
    if mountpoint -q "$hierarchy"; then mount -o remount,bind,rw "$hierarchy"; fi
  done
fi
# --tls=false: plain TCP on purpose (the port is published on the outer engine's 127.0.0.1 only);
# without it dockerd 20.10 waits 15 s to warn about it.
# The address pool keeps the inner networks apart from the outer engine's 172.17-31 ranges.
exec dockerd --host tcp://0.0.0.0:2375 --tls=false --storage-driver overlay2 \
  --bip 10.213.255.1/24 --default-address-pool base=10.213.0.0/17,size=24 "$@"
