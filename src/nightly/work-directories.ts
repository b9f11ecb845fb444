// The temporary directories a verification restores into (on the Barman host or a verification
// host), and the sweep that removes those a run left behind: a run killed with SIGKILL, a machine
// rebooted, an SSH server that died mid-transfer (the run's own clean-up could not reach the host).
// Each directory carries a marker naming its run (run id, pid, the machine that ran the
// verification, start time), so a later run can tell a dead run's copy from a live one's.
import type { ExecResult } from "../../containers/exec.ts";

/** Where `barman restore` writes by default: a fresh directory per verification, removed afterwards. */
export const DEFAULT_WORK_PARENT = "/var/tmp";
export const WORK_PREFIX = "pgdrill-verify-";
/** The marker file inside each work directory. */
export const MARKER_NAME = ".pgdrill-run";
/** A copy without a marker (or from another machine, whose processes we cannot see) is stale after this long. */
export const FOREIGN_STALE_AFTER_S = 24 * 3600;

export interface RunMarker {
  runId: string;
  pid: number;
  /** The machine that runs the verification (os.hostname()), not the host the directory is on. */
  machine: string;
  startedAt: string;
}

export function renderMarker(marker: RunMarker): string {
  return `${JSON.stringify(marker)}\n`;
}

export function parseMarker(text: string): RunMarker | undefined {
  try {
    const value = JSON.parse(text) as Partial<RunMarker>;
    if (typeof value.runId === "string" && typeof value.pid === "number" && typeof value.machine === "string" && typeof value.startedAt === "string")
      return value as RunMarker;
  } catch {
    // not ours, or cut short: treated as a directory without a marker
  }
  return undefined;
}

/**
 * Whether a work directory is a dead run's: its marker names this machine and a process that no
 * longer runs, or it is older than FOREIGN_STALE_AFTER_S and its run cannot be seen from here.
 * A live run's directory is never stale.
 */
export function isStale(options: {
  marker: RunMarker | undefined;
  ageS: number;
  thisMachine: string;
  processAlive: (pid: number) => boolean;
  ownRunId: string;
}): { stale: boolean; why: string } {
  const { marker, ageS, thisMachine, processAlive, ownRunId } = options;
  if (marker?.runId === ownRunId) return { stale: false, why: "this run's own" };
  if (marker && marker.machine === thisMachine)
    return processAlive(marker.pid)
      ? { stale: false, why: `run ${marker.runId} (pid ${marker.pid}) is still running here` }
      : { stale: true, why: `run ${marker.runId} (pid ${marker.pid} on ${marker.machine}, started ${marker.startedAt}) is gone` };
  if (ageS > FOREIGN_STALE_AFTER_S)
    return {
      stale: true,
      why: marker
        ? `run ${marker.runId} from ${marker.machine} started ${marker.startedAt}, over ${FOREIGN_STALE_AFTER_S / 3600} h ago`
        : `no run marker and over ${FOREIGN_STALE_AFTER_S / 3600} h old`,
    };
  return { stale: false, why: marker ? `run ${marker.runId} from ${marker.machine} may still be running` : "no run marker, recent" };
}

/** Whether a process of this machine runs (signal 0: exists; EPERM: exists, another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Only ever a directory of ours: the pattern guards every removal. */
export function isWorkDirectory(path: string): boolean {
  return new RegExp(`^/[A-Za-z0-9_./-]*/${WORK_PREFIX}[A-Za-z0-9_-]+$`).test(path) && !path.includes("..");
}

/** Runs a command where the work directories are (the Barman host, or the verification host). */
export type HostCommand = (argv: string[]) => Promise<ExecResult>;

const words = (result: ExecResult): string => (result.stdout + result.stderr).trim();

/** Removes one work directory of ours, and proves it is gone. */
export async function removeWorkDirectory(onHost: HostCommand, directory: string): Promise<void> {
  if (!isWorkDirectory(directory)) throw new Error(`refusing to remove '${directory}': not a verification directory`);
  const removed = await onHost(["rm", "-rf", "--", directory]);
  const left = await onHost(["test", "-e", directory]);
  if (removed.exitCode !== 0 || left.exitCode === 0) throw new Error(`rm -rf exit ${removed.exitCode}: ${words(removed) || "directory still there"}`);
}

/** Writes the marker of a run into its fresh work directory. */
export async function writeMarker(onHost: HostCommand, directory: string, marker: RunMarker): Promise<void> {
  const written = await onHost(["bash", "-c", 'printf "%s" "$1" > "$2"', "write-marker", renderMarker(marker), `${directory}/${MARKER_NAME}`]);
  if (written.exitCode !== 0) throw new Error(`could not write ${directory}/${MARKER_NAME}: ${words(written)}`);
}

/**
 * Removes the work directories in `parent` that dead runs left (see isStale). Returns what was
 * removed with why, and what could not be removed; never touches a live run's directory.
 */
export async function sweepStaleWorkDirectories(options: {
  onHost: HostCommand;
  parent: string;
  ownRunId: string;
  thisMachine: string;
  processAlive?: (pid: number) => boolean;
}): Promise<{ removed: Array<{ directory: string; why: string }>; failed: Array<{ directory: string; error: string }> }> {
  const { onHost, parent } = options;
  // One listing: path, age in seconds, and the marker's text (empty without one), per directory.
  const listed = await onHost([
    "bash",
    "-c",
    'now=$(date +%s); for d in "$1"/pgdrill-verify-*; do [ -d "$d" ] || continue; m=$(stat -c %Y "$d"); printf "%s\\t%s\\t%s\\n" "$d" "$((now - m))" "$(head -c 2000 "$d/.pgdrill-run" 2>/dev/null | tr -d "\\n\\t")"; done',
    "list-work-directories",
    parent,
  ]);
  if (listed.exitCode !== 0) throw new Error(`could not list ${parent}: ${words(listed)}`);
  const removed: Array<{ directory: string; why: string }> = [];
  const failed: Array<{ directory: string; error: string }> = [];
  for (const line of listed.stdout.split("\n").filter(Boolean)) {
    const [directory = "", age = "0", markerText = ""] = line.split("\t");
    if (!isWorkDirectory(directory)) continue;
    const verdict = isStale({
      marker: parseMarker(markerText),
      ageS: Number(age),
      thisMachine: options.thisMachine,
      processAlive: options.processAlive ?? processAlive,
      ownRunId: options.ownRunId,
    });
    if (!verdict.stale) continue;
    try {
      await removeWorkDirectory(onHost, directory);
      removed.push({ directory, why: verdict.why });
    } catch (error) {
      failed.push({ directory, error: (error as Error).message });
    }
  }
  return { removed, failed };
}
