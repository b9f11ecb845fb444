// Faults the drills inject into a Barman server, in one place.
import type { BarmanClient } from "../../containers/barman/barman-client.ts";
import type { DrillEnvironment } from "../../src/engine/topology.ts";

/**
 * A WAL segment gone from Barman's archive, as if a clean-up script had deleted it: the file and
 * its line in the WAL catalogue (wals/xlog.db in Barman 3.4, <server>-xlog.db in later versions).
 */
export async function removeArchivedSegment(env: DrillEnvironment, segment: string): Promise<void> {
  await env.barman.shell(
    `set -e; f=$(find /var/lib/barman/${env.barman.serverName}/wals -name ${segment}); rm "$f"; for db in $(find /var/lib/barman -name '*xlog.db'); do sed -i "/^${segment}\\t/d" "$db"; done`,
  );
}

/**
 * The .partial segment gone from Barman's streaming directory (receive-wal's host lost the file it
 * was writing): the newest WAL Barman received is no longer there to restore. Returns what was removed.
 */
export async function removeStreamingPartial(env: DrillEnvironment): Promise<string[]> {
  const removed = await env.barman.shell(`set -e; cd /var/lib/barman/${env.barman.serverName}/streaming; ls *.partial 2>/dev/null || true; rm -f *.partial`, {
    user: "root",
  });
  return removed.split("\n").filter(Boolean);
}

/**
 * A data file of a base backup cut short on Barman's disk, as a storage fault that lost the
 * file's tail: kept to its first 8 KiB page. `relationPath` is the file's path in PGDATA
 * (pg_relation_filepath); it must be longer than one page, so that the damage is real. pg_verifybackup
 * (barman verify-backup) then finds its size unlike the manifest's. Returns the damaged file's path.
 */
export async function truncateBackupFile(barman: BarmanClient, backupId: string, relationPath: string): Promise<string> {
  for (const part of [barman.serverName, backupId, relationPath]) if (!/^[\w.-]+(\/[\w.-]+)*$/.test(part)) throw new Error(`not a plain path part: '${part}'`);
  const file = `/var/lib/barman/${barman.serverName}/base/${backupId}/data/${relationPath}`;
  await barman.shell(
    `set -e; size=$(stat -c %s ${file}); [ "$size" -gt 8192 ] || { echo "${file} has $size bytes: one page or less, nothing to cut" >&2; exit 1; }; truncate -s 8192 ${file}`,
  );
  return file;
}
