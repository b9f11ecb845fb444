// The phases of a nightly verification that read Barman's catalogue only (nothing restored yet):
// which backup, how fresh the backup and the WAL archive are, whether Barman can vouch for the
// backup's files, and whether every WAL segment the restore needs is in the archive. Each takes
// the part of the Barman client it reads (a fake in the unit tests) and the run's VerifyRecord.

import type { BarmanClient } from "../../containers/barman/barman-client.ts";
import { type BackupDetails, segmentTimeline } from "../barman/barman-output.ts";
import type { RecoveryTarget } from "../barman/recovery-target.ts";
import { describeAge, NightlyInputError } from "./nightly-result.ts";
import type { VerifyRecord } from "./verify-record.ts";

/** What these phases read from Barman: listed so that a test can stand in for Barman with a plain object. */
export type BarmanCatalogue = Pick<
  BarmanClient,
  | "serverName"
  | "listBackups"
  | "showBackup"
  | "backupTablespaces"
  | "newestArchivedWal"
  | "backupStorage"
  | "verifyBackupOutcome"
  | "installedPgVerifybackup"
  | "walCoverage"
>;

/**
 * The backup to verify: the newest DONE one ("latest"; Barman backup ids are timestamps, so it
 * sorts last) or the one named. A string says why none can be verified; a NightlyInputError is a
 * wrong request (an id the server does not have, tablespaces this verification cannot place).
 */
export async function selectBackup(barman: BarmanCatalogue, wanted: string): Promise<BackupDetails | string> {
  const server = barman.serverName;
  const backups = await barman.listBackups().catch((error: Error) => error);
  if (backups instanceof Error) return `\`barman list-backup ${server}\` failed: ${backups.message}`;
  let backupId: string;
  if (wanted === "latest") {
    const done = backups
      .filter((b) => b.status === "DONE")
      .map((b) => b.backupId)
      .sort();
    if (done.length === 0) {
      const others = backups.map((b) => `${b.backupId} ${b.status}`).join(", ");
      return `server '${server}' has no DONE backup to verify (${others ? `backups: ${others}` : "no backups at all"}); check \`barman check ${server}\` and the backup schedule`;
    }
    backupId = done.at(-1)!;
  } else {
    const entry = backups.find((b) => b.backupId === wanted);
    if (!entry) {
      const known = backups
        .map((b) => b.backupId)
        .sort()
        .slice(-5)
        .join(", ");
      throw new NightlyInputError(`server '${server}' has no backup '${wanted}'; newest backups: ${known || "(none)"}`);
    }
    if (entry.status !== "DONE") return `backup ${wanted} of server '${server}' is ${entry.status}, not DONE: it cannot be recovered`;
    backupId = wanted;
  }
  const backup = await barman.showBackup(backupId).catch((error: Error) => error);
  if (backup instanceof Error) return backup.message;
  // barman recover puts tablespaces at their original paths (outside our temporary directory, so
  // neither the tar nor the clean-up would cover them) unless relocated: refuse rather than write there.
  const names = await barman.backupTablespaces(backupId);
  if (names.length > 0) {
    throw new NightlyInputError(
      `backup ${backupId} of server '${server}' has tablespaces (${names.join(", ")}); this verification does not relocate tablespaces yet and would let barman recover write to their original paths on the Barman server`,
    );
  }
  return backup;
}

/**
 * The backup's age and the newest archived WAL segment's, from Barman's own catalogue (no
 * PostgreSQL needed, so known even when the primary is down), judged against the freshness
 * objectives. Returns the newest segment, or undefined when it could not be read or there is none.
 */
export async function judgeArchiveFreshness(record: VerifyRecord, barman: BarmanCatalogue, backup: BackupDetails): Promise<string | undefined> {
  const { freshness } = record;
  freshness.backupEndTime = backup.endTime.toISOString();
  freshness.backupAgeS = record.ageS(backup.endTime);
  record.judgeAge(`backup ${backup.backupId} (ended ${freshness.backupEndTime})`, freshness.backupAgeS, "maxBackupAgeS");
  const newestWal = await barman.newestArchivedWal().catch((error: Error) => error);
  if (newestWal instanceof Error) {
    record.progress(`the newest archived WAL could not be read: ${newestWal.message.split("\n")[0]}`);
    return undefined;
  }
  if (newestWal === undefined) {
    record.notFresh(`Barman's WAL archive of server '${barman.serverName}' is empty`);
    return undefined;
  }
  freshness.newestWalTime = newestWal.archivedAt.toISOString();
  freshness.newestWalAgeS = record.ageS(newestWal.archivedAt);
  record.progress(`newest archived WAL ${newestWal.segment}, archived ${describeAge(freshness.newestWalAgeS)} ago`);
  record.judgeAge(
    `the newest WAL segment in Barman's archive (${newestWal.segment}, archived ${freshness.newestWalTime})`,
    freshness.newestWalAgeS,
    "maxWalAgeS",
  );
  return newestWal.segment;
}

/**
 * Barman's verify-backup where it can judge (a plain backup with a manifest), else the restored
 * copy is to be checked in the throwaway instance (record.verifyCopy: a tar backup, or no
 * pg_verifybackup where Barman looks), else one sentence says why nothing could be checked.
 * Never "damaged" for what is not damage. False when the run stops here.
 */
export async function verifyBackupFiles(record: VerifyRecord, barman: BarmanCatalogue, selected: BackupDetails, major: number): Promise<boolean> {
  const id = selected.backupId;
  const server = barman.serverName;
  const read = await barman.backupStorage(id).catch((error: Error) => error);
  if (read instanceof Error) {
    record.fail("backup verification", `the backup's files could not be listed in Barman's storage: ${read.message}`);
    return false;
  }
  record.storage = read;
  const notVerified = (reason: "encrypted" | "no manifest", sentence: string): true => {
    record.backupVerification = { verdict: "not verified", by: null, reason, sentence };
    record.progress(`NOT VERIFIED: ${sentence}`);
    return true;
  };
  if (selected.encryption) {
    // Barman 3.20: "Backup verification is not supported for encrypted backups", and the restored copy carries no manifest.
    return notVerified(
      "encrypted",
      `backup ${id} is encrypted (${selected.encryption}): Barman does not verify the backups it encrypts, and its restore leaves no manifest in the copy; the restore decrypts it (proving the key and passphrase), and the copy is checked physically (pg_checksums where data checksums are on, and the built-in checks)`,
    );
  }
  if (!read.manifest) {
    return notVerified(
      "no manifest",
      `backup ${id} has no backup_manifest (Barman's rsync method writes none): its files were not checked against a manifest; \`barman generate-manifest ${server} ${id}\`, or autogenerate_manifest = true for the next backups, gives it one. Checked physically instead: pg_checksums where data checksums are on, and the built-in checks`,
    );
  }
  const verified = await barman.verifyBackupOutcome(id).catch((error: Error) => error);
  if (verified instanceof Error) {
    record.fail("backup verification", `barman verify-backup could not run: ${verified.message}`);
    return false;
  }
  if (verified.outcome === "damaged") {
    record.backupVerification = { verdict: "damaged", by: "barman verify-backup", reason: null, sentence: `pg_verifybackup found backup ${id} damaged` };
    record.fail("backup verification", `barman verify-backup found backup ${id} damaged (exit ${verified.exitCode}):\n${verified.said}`);
    return false;
  }
  if (verified.outcome !== "verified") {
    const installed = verified.outcome === "tool missing" ? ((await barman.installedPgVerifybackup().catch(() => [])).at(-1) ?? "") : "";
    const why = {
      "tool missing": installed
        ? `Barman looks for it in path_prefix and the barman user's PATH; it is installed at ${installed} (Debian's client package, not on PATH): path_prefix = "${installed.replace(/\/pg_verifybackup$/, "")}" in the server's section lets Barman verify`
        : `Barman looks for it in path_prefix and the barman user's PATH, and no /usr/lib/postgresql/*/bin/pg_verifybackup is installed on the Barman host: install Debian's postgresql-client-<major> (at least PostgreSQL ${major}) and set path_prefix`,
      format: `the pg_verifybackup Barman runs (PostgreSQL 17 or older) cannot read a ${read.compression ?? "uncompressed"} tar backup`,
      encrypted: "Barman does not verify the backups it encrypted",
    }[verified.outcome];
    record.verifyCopy = { reason: verified.outcome === "tool missing" ? "pg_verifybackup missing" : verified.outcome, said: `${verified.said}: ${why}` };
    record.progress(`barman verify-backup: ${record.verifyCopy.said}; the restored copy is checked against the backup's manifest instead`);
    return true;
  }
  record.backupVerification = { verdict: "verified", by: "barman verify-backup", reason: null, sentence: verified.said.split("\n").at(-1) ?? "verified" };
  record.progress(`barman verify-backup: ${record.backupVerification.sentence}`);
  return true;
}

/**
 * Every segment from the backup's first through the end of what the restore replays: the newest
 * archived one for a full replay (on the backup's timeline), the backup's last otherwise (a
 * target's own segments are proven by the replay). False when a segment is missing.
 */
export async function verifyWalContinuity(
  record: VerifyRecord,
  barman: BarmanCatalogue,
  selected: BackupDetails,
  target: RecoveryTarget,
  newestSegment: string | undefined,
): Promise<boolean> {
  let through = selected.endWal;
  if (target.kind === "latest" && newestSegment) {
    if (segmentTimeline(newestSegment) === segmentTimeline(selected.beginWal)) through = newestSegment;
    else record.progress(`the archive continues on timeline ${segmentTimeline(newestSegment)}: WAL checked through the backup's own end (${selected.endWal})`);
  }
  const coverage = await barman.walCoverage(selected.beginWal, through).catch((error: Error) => error);
  if (coverage instanceof Error) {
    record.fail("WAL verification", `Barman's WAL archive could not be read: ${coverage.message}`);
    return false;
  }
  record.walContinuity = coverage;
  if (coverage.missing.length > 0) {
    const named = coverage.missing.slice(0, 5).join(", ") + (coverage.missing.length > 5 ? ` and ${coverage.missing.length - 5} more` : "");
    record.fail(
      "WAL verification",
      `WAL segment ${named} missing from Barman's archive (${coverage.missing.length} of the ${coverage.segmentsChecked} segments from ${coverage.from} through ${coverage.through}, which the restore needs); a restore would stop at the first gap. Look at \`barman check ${barman.serverName}\` and the archiver's log`,
    );
    return false;
  }
  record.progress(`WAL continuity: ${coverage.segmentsChecked} segment(s) ${coverage.from} .. ${coverage.through} all in Barman's archive`);
  return true;
}
