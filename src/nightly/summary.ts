// The nightly verification's summary as a person reads it in the morning: the verdict, what failed
// with expected and actual values, the timings, and the one next action.

import { describeTarget } from "../barman/recovery-target.ts";
import { MIB, mebibytes, seconds } from "../support/measure.ts";
import { describeAge, type NightlyPhasesMs, type NightlyResult } from "./nightly-result.ts";

const PHASE_LABELS: Array<[keyof NightlyPhasesMs, string]> = [
  ["verifyBackupMs", "backup verification"],
  ["barmanRecoverMs", "barman recover"],
  ["transferMs", "transfer to the throwaway instance"],
  ["instanceStartUntilPromotedMs", "instance start until promoted"],
  ["verificationMs", "verification (checks)"],
];

/** What a person reads in the morning: the verdict, what failed with expected vs actual, the timings. */
export function renderNightlySummary(result: NightlyResult): string {
  const pad = (label: string): string => `  ${label.padEnd(36, " ")}`;
  const backup = result.backupId
    ? `${result.backupId}${result.backupEndTime ? ` (ended ${result.backupEndTime}` : ""}${result.backupSizeBytes !== undefined ? `, ${mebibytes(result.backupSizeBytes)} MiB)` : result.backupEndTime ? ")" : ""}`
    : "none resolved";
  const failed = result.checks.filter((c) => !c.ok);
  const lines = [
    `Nightly verification of Barman server '${result.server}' (${result.barman}): ${result.verdict.toUpperCase()}`,
    `Backup: ${backup}, recovered to ${describeTarget(result.target)} (${result.mode}${result.postgresMajor ? `, PostgreSQL ${result.postgresMajor}` : ""})`,
    `Freshness: ${[
      ["backup", result.freshness.backupAgeS],
      ["newest archived WAL", result.freshness.newestWalAgeS],
      ["recovery point", result.freshness.recoveryPointAgeS],
    ]
      .map(([what, age]) => `${what} ${age === null ? "unknown" : `${describeAge(age as number)} old`}`)
      .join(", ")}`,
    `Backup verification: ${result.backupVerification.verdict.toUpperCase()}${result.backupVerification.by ? ` (${result.backupVerification.by})` : ""}: ${result.backupVerification.sentence}`,
    ...(result.walContinuity
      ? [
          `WAL continuity: ${result.walContinuity.missing.length === 0 ? "complete" : `${result.walContinuity.missing.length} segment(s) MISSING`}, ${result.walContinuity.segmentsChecked} segment(s) ${result.walContinuity.from} .. ${result.walContinuity.through}`,
        ]
      : []),
    ...(result.configurationChanges.length > 0
      ? [
          `Throwaway configuration: ${result.configurationChanges.length} setting(s) of the backup changed (${result.configurationChanges.map((c) => c.setting).join(", ")}); each with why in the JSON report`,
        ]
      : []),
    ...result.swept.map((s) => `Removed a dead run's copy: ${s.directory} (${s.why})`),
    result.checks.length === 0
      ? "Checks: not run (the verification stopped before them)"
      : `Checks: ${result.checks.filter((c) => c.ok).length} of ${result.checks.length} passed`,
  ];
  for (const c of failed) {
    lines.push(
      c.kind !== "query"
        ? `  - ${c.name}: ${c.error}`
        : c.error
          ? `  - ${c.name}: the query failed: ${c.error}`
          : `  - ${c.name}: expected ${JSON.stringify(c.expected)}, actual ${JSON.stringify(c.actual)}`,
    );
  }
  if (result.problems.length > 0) {
    lines.push("Problems:");
    for (const p of result.problems) lines.push(`  - ${p.replaceAll("\n", "\n    ")}`);
  }
  lines.push("Phases (monotonic clock):");
  for (const [key, label] of PHASE_LABELS) {
    const ms = result.phasesMs[key];
    lines.push(`${pad(`${label}:`)}${ms === null ? "not reached" : seconds(ms)}`);
  }
  lines.push(`${pad("total:")}${seconds(result.totalMs)}`);
  if (result.transferredBytes !== null && result.phasesMs.transferMs) {
    lines.push(`${pad("transferred:")}${mebibytes(result.transferredBytes)} MiB at ${transferRateMiBs(result).toFixed(1)} MiB/s`);
  }
  if (result.verdict === "fail") lines.push(`Action: ${nextAction(result)}`);
  return lines.join("\n");
}

/** MiB per second of the transfer phase (0 when it did not finish). */
export function transferRateMiBs(result: Pick<NightlyResult, "transferredBytes" | "phasesMs">): number {
  const ms = result.phasesMs.transferMs;
  return result.transferredBytes !== null && ms ? result.transferredBytes / MIB / (ms / 1000) : 0;
}

/** What a person does first, by the phase that failed first. */
function nextAction(result: NightlyResult): string {
  const server = result.server;
  if (result.interrupted) return "the run was interrupted, nothing was concluded about the backup; run it again.";
  // The cause first: a full disk or a dropped connection is what to mend, whatever phase met it.
  const where = result.workDirectory ? result.workDirectory.replace(/\/[^/]+$/, "") : "the work directory's parent (--barman-work-dir)";
  switch (result.cause) {
    case "disk full":
      return `a disk filled up (No space left on device) during ${result.failedPhase}: free room for one full copy of the backup in ${where} on the host restored to, or give --barman-work-dir on a larger disk; nothing was concluded about the backup.`;
    case "ssh":
      return `the SSH connection dropped or was refused during ${result.failedPhase} (ssh's words above): check the host, its sshd and the network, then run again; nothing was concluded about the backup. A copy it left is removed by the next run.`;
    case "missing library":
      return "the throwaway instance lacks a library the backup's configuration loads (named above): give an image that has it with PGDRILL_RECOVERY_IMAGE.";
    case "encryption":
      return "the backup is encrypted and could not be decrypted (words above): check encryption_passphrase_command and the GPG key on the Barman host; nothing was concluded about the backup's contents.";
    default:
      break;
  }
  switch (result.failedPhase) {
    case "backup selection":
      return `there is no usable backup to verify: look at \`barman check ${server}\` and \`barman list-backup ${server}\` and at the backup schedule.`;
    case "backup verification":
      return result.backupVerification.verdict === "damaged"
        ? `the backup's files do not match its manifest: do not rely on this backup; take a new one (\`barman backup ${server}\`) and look at Barman's storage.`
        : `the backup's files could not be read in Barman's storage (words above): look at \`barman show-backup ${server} ${result.backupId ?? "ID"}\` and the backup directory's permissions.`;
    case "WAL verification":
      return `WAL the restore needs is missing from Barman's archive (named above): this backup cannot be restored past the gap. Look at \`barman check ${server}\`, the archiver's log and archive_command on the server, and take a new backup (\`barman backup ${server}\`) so that recovery does not depend on the gap.`;
    case "barman recover":
      return "Barman could not restore this backup to this target (its words above): check the target against the backup's times, and Barman's disk space for the temporary copy.";
    case "transfer":
      return "the recovered copy could not be moved into the throwaway instance (words above): check the Docker engine here and its disk space, then run again.";
    case "instance start":
      return `PostgreSQL could not recover the copy (its words above): check that the target lies inside the archived WAL (\`barman check ${server}\`, \`barman show-backup ${server} ${result.backupId ?? "ID"}\`) and that this image's PostgreSQL matches the backup's.`;
    case "verification":
      return result.checks.some((c) => !c.ok && !c.error)
        ? "the backup does not hold what the checks expect: compare with production and with the check's SQL before relying on this backup."
        : "a check's query failed on the recovered data (psql's words above): fix the check's SQL or find what is missing from the backup.";
    case "freshness":
      return `what was verified is older than your freshness objectives (above): look at the backup schedule (\`barman cron\`, \`barman backup ${server}\`) and at WAL archiving (\`barman check ${server}\`) before the day you need it.`;
    case "objectives":
      return "the backup restored correctly but slower than your RTO objectives (above): look at Barman's disk and network, or at `barman recover --jobs`, before the day you need it.";
    case "clean-up":
      return "the verification itself finished, but something it made is still there (named above): remove it by hand.";
    case undefined:
      return "see the problems above.";
  }
}
