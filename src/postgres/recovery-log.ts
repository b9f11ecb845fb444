// Reads what PostgreSQL 15 says about a recovery in its log: the evidence that the recovered
// instance stopped where we asked, for the reason we expect, and promoted to a new timeline.
export interface RecoveryLogFacts {
  /** "starting point-in-time recovery to ..." (absent when replaying to the end). */
  pitrTarget: string | undefined;
  /** xid and commit time of "recovery stopping before commit of transaction N, time T". */
  stoppedBeforeCommit: { xid: number; time: string } | undefined;
  /** "recovery stopping at restore point "name", time T". */
  stoppedAtRestorePoint: string | undefined;
  newTimeline: number | undefined;
  promoted: boolean;
  /** Lines that make a recovery wrong whatever else happened (FATAL, PANIC, target not reached). */
  fatalLines: string[];
  /** The log lines that tell the recovery's story, for the report. */
  recoveryLines: string[];
}

/** FATALs a client's connection attempt gets while the server starts: about the client, not the recovery. */
const CLIENT_REFUSED = /FATAL:\s+the database system is (starting up|not yet accepting connections|not accepting connections)/;

const RECOVERY_LINE = /recovery|restored log file|redo (starts|done)|timeline|consistent|ready to accept|FATAL|PANIC|checkpoint starting: end-of-recovery/;

export function readRecoveryLog(log: string): RecoveryLogFacts {
  const lines = log.split("\n").filter((l) => l.trim());
  const pitr = /starting point-in-time recovery to (.+)$/.exec(log.match(/^.*starting point-in-time recovery to .*$/m)?.[0] ?? "");
  const stop = /recovery stopping before commit of transaction (\d+), time (.+)$/m.exec(log);
  const restorePoint = /recovery stopping at restore point "([^"]+)"/.exec(log);
  const timeline = /selected new timeline ID: (\d+)/.exec(log);
  return {
    pitrTarget: pitr?.[1]?.trim(),
    stoppedBeforeCommit: stop ? { xid: Number(stop[1]), time: stop[2]!.trim() } : undefined,
    stoppedAtRestorePoint: restorePoint?.[1],
    newTimeline: timeline ? Number(timeline[1]) : undefined,
    // "read-only connections" is hot standby during recovery; without it, the promoted primary.
    promoted: /database system is ready to accept connections$/m.test(log),
    fatalLines: lines.filter((l) => /\b(FATAL|PANIC):/.test(l) && !CLIENT_REFUSED.test(l)),
    recoveryLines: lines.filter((l) => RECOVERY_LINE.test(l) && !/^cp: cannot stat/.test(l)),
  };
}
