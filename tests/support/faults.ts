// Faults the drills inject into a Barman server, in one place.
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
