// What the start of the throwaway instance says about the backup: a copy that did not arrive (the
// transfer), a copy that does not match its manifest (damage, found by pg_verifybackup in the
// instance before PostgreSQL starts), an instance that does not start or is not promoted. Pure
// judgements over what the start left (errors and logs), recorded on the run's VerifyRecord.

import { RecoveredInstanceStartError } from "../../containers/postgres/recovered-instance.ts";
import { fatalWithContext } from "./cause.ts";
import type { VerifyRecord } from "./verify-record.ts";

/**
 * Files a Barman restore changes, adds or leaves out in the copy, which its manifest cannot
 * describe: the configuration it rewrites (archive_command and recovery settings commented out,
 * the originals kept as .origin), its own recovery metadata, the WAL it copies for the replay, and
 * tablespace_map, which it never unpacks from a tar backup (it places tablespaces itself:
 * recovery_executor.py, `exclude=["recovery.conf", "tablespace_map"]`). pg_verifybackup ignores
 * pg_wal, postgresql.auto.conf and recovery.signal by itself.
 */
export const FILES_BARMAN_RESTORE_CHANGES = [
  "postgresql.conf",
  "postgresql.conf.origin",
  "postgresql.auto.conf.origin",
  ".barman-recover.info",
  "barman_wal",
  "tablespace_map",
];

/** The "pgdrill: <what>: ..." lines the throwaway instance's entrypoint wrote (containers/postgres/docker-entrypoint.sh). */
export function pgdrillLines(log: string, what: string): string[] {
  const prefix = `pgdrill: ${what}`;
  return log
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length).replace(/^:?\s*/, ""));
}

/** A shared_preload_libraries entry the recovery image lacks: the line that says which image to give. */
export function missingLibraryAdvice(fatal: string): string {
  const library = /could not access file "([^"]+)": No such file or directory/.exec(fatal)?.[1];
  return library
    ? `\nthe recovery image lacks the library '${library}' that the backup's shared_preload_libraries loads: give an image of this PostgreSQL major that has it with PGDRILL_RECOVERY_IMAGE`
    : "";
}

/**
 * The throwaway instance's start failed: before the copy arrived (the transfer, with the sending
 * side's own words when it said any), on the copy's check against its manifest (the backup is
 * damaged), or in PostgreSQL's start (its FATAL lines with the lines that say why).
 */
export function recordStartFailure(
  record: VerifyRecord,
  failure: { error: Error; transferred: boolean; senderSaid: string | undefined; destination: string; backupId: string },
): void {
  const { error, backupId } = failure;
  if (!failure.transferred) {
    const sender = failure.senderSaid ? `${failure.senderSaid}; ` : "";
    record.fail("transfer", `${failure.destination} could not be copied into the throwaway instance: ${sender}${error.message}`);
    return;
  }
  const startLog = error instanceof RecoveredInstanceStartError ? error.fullLog : "";
  if (pgdrillLines(startLog, "copy verification").some((l) => /FAILED/.test(l))) {
    record.backupVerification = {
      verdict: "damaged",
      by: "pg_verifybackup on the restored copy",
      reason: null,
      sentence: `the restored copy of backup ${backupId} does not match its backup manifest`,
    };
    record.fail(
      "backup verification",
      `the restored copy of backup ${backupId} does not match its backup manifest (pg_verifybackup in the throwaway instance, before it started):\n${pgdrillLines(startLog, "pg_verifybackup").join("\n")}`,
    );
    return;
  }
  if (error instanceof RecoveredInstanceStartError) {
    const why = fatalWithContext(startLog);
    record.fail(
      "instance start",
      `the recovered instance did not start: ${why.length ? why.join("\n") : error.message}${missingLibraryAdvice(why.join("\n"))}`,
    );
    return;
  }
  record.fail("instance start", `the recovered instance did not start: ${error.message}`);
}

/**
 * After the start: the configured database is in the copy (said with the databases that are), and
 * the instance is a promoted primary that logged no FATAL. False (and recorded) otherwise.
 */
export function judgeStartedInstance(
  record: VerifyRecord,
  started: {
    database: string;
    /** The databases that take connections, or undefined when they could not be listed. */
    databases: string[] | undefined;
    inRecovery: boolean | Error;
    fatalLines: string[];
    serverLog: string;
  },
): boolean {
  const { database, databases, inRecovery } = started;
  if (databases && !databases.includes(database)) {
    record.fail(
      "verification",
      `the configured database '${database}' is not in this backup; its databases: ${databases.join(", ")} (set nightly.servers.${record.context.server}.database, or --database)`,
    );
    return false;
  }
  if (inRecovery instanceof Error || inRecovery || started.fatalLines.length > 0) {
    const said = inRecovery instanceof Error ? inRecovery.message : inRecovery ? "still in recovery" : "";
    record.fail(
      "instance start",
      `the recovered instance ${inRecovery === false ? "promoted but logged" : "is not a promoted primary"}: ${[...fatalWithContext(started.serverLog), said].filter(Boolean).join("\n")}`,
    );
    return false;
  }
  return true;
}
