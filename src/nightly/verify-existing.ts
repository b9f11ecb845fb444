// Nightly verification of an EXISTING Barman server: no primary is created or contacted. The
// newest (or a named) backup of one server is checked with `barman verify-backup`, recovered with
// `barman recover` into a temporary directory on the Barman server, streamed out as a tar archive
// into a throwaway PostgreSQL container that has no network at all, and the user's checks run
// there. The Barman server only ever sees read-only barman commands, `barman recover` into our own
// temporary directory, `tar` of that directory and its removal (the transcript in the result lists
// every command). Transport: `docker exec` into a containerised Barman server, or SSH to a Barman
// host (containers/barman/ssh-transport.ts).

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { Transform } from "node:stream";
import type { BackupStorage, BarmanClient, CommandStream, WalCoverage } from "../../containers/barman/barman-client.ts";
import { docker } from "../../containers/docker-resources.ts";
import { type ExecResult, execIn } from "../../containers/exec.ts";
import {
  ISOLATED_HBA_FILE,
  ISOLATED_PGDATA_NAME,
  ISOLATED_SOCKET_DIRECTORY,
  RecoveredInstanceContainer,
  RecoveredInstanceStartError,
  type StartedRecoveredInstance,
} from "../../containers/postgres/recovered-instance.ts";
import { type BackupDetails, segmentTimeline } from "../barman-output.ts";
import { budgetEnvName, budgetOf } from "../config.ts";
import { monotonicNow, seconds } from "../metrics.ts";
import { evaluatePhaseObjectives } from "../objectives.ts";
import { parsePgTimestamp } from "../pg-time.ts";
import { barmanTargetArgs, describeTarget, type RecoveryTarget } from "../recovery-target.ts";
import { BudgetExceededError, budget, stoppedByTimeout, underTimeout, withinBudget } from "../wait.ts";
import { assertServerKnown, connectBarman, SAFE_NAME, verificationHostTransport, words } from "./barman-endpoint.ts";
import { type CauseClass, causeFirst, causeLine, causeOf, fatalWithContext } from "./cause.ts";
import {
  type BackupVerification,
  describeAge,
  type FreshnessObjectives,
  type NightlyCheck,
  type NightlyCheckResult,
  type NightlyFreshness,
  NightlyInputError,
  type NightlyMode,
  type NightlyPhase,
  type NightlyPhasesMs,
  type NightlyResult,
  type NotVerifiedReason,
  notReachedVerification,
  unknownFreshness,
  type VerifyExistingOptions,
} from "./nightly-result.ts";
import { postgresMajor } from "./recovery-image.ts";
import { type ConfigChange, throwawayConfiguration } from "./throwaway-config.ts";
import { DEFAULT_WORK_PARENT, removeWorkDirectory, sweepStaleWorkDirectories, WORK_PREFIX, writeMarker } from "./work-directories.ts";

export { DEFAULT_WORK_PARENT } from "./work-directories.ts";

/** After a failed transfer, how long the sending side (tar over docker exec or SSH) gets to say why it ended. */
const TRANSFER_SENDER_EXIT = budget("transferSenderExit", 5_000);
/** Label on the throwaway instance, so a test or a person can find (and reap) exactly these. */
export const LABEL_ROLE = "io.pgdrill.role";
export const THROWAWAY_ROLE = "nightly-verification";

/** The data directory inside the work directory: the tar archive's top-level directory, as the isolated instance expects it. */
const PGDATA_NAME = ISOLATED_PGDATA_NAME;

/** Output kept per command in the JSON report: enough for any failure, bounded for a night of servers. */
const OUTPUT_KEPT_CHARS = 16_000;

/** Barman backup ids are timestamps (YYYYMMDDTHHMMSS): the newest DONE one sorts last. */
async function selectBackup(barman: BarmanClient, wanted: string): Promise<BackupDetails | string> {
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

const emptyPhases = (): NightlyPhasesMs => ({
  verifyBackupMs: null,
  barmanRecoverMs: null,
  transferMs: null,
  instanceStartUntilPromotedMs: null,
  verificationMs: null,
});

export function modeOf(target: RecoveryTarget): NightlyMode {
  return target.kind === "latest" ? "full WAL replay" : target.kind === "immediate" ? "backup only" : "target";
}

export async function verifyExistingBackup(options: VerifyExistingOptions): Promise<NightlyResult> {
  const started = monotonicNow();
  const startedAt = new Date();
  const target = options.target ?? { kind: "latest" };
  const dbUser = options.dbUser ?? "postgres";
  const workParent = options.workParent ?? DEFAULT_WORK_PARENT;
  const { progress, server, budgetsMs } = options;
  if (!/^[A-Za-z0-9_-]+$/.test(options.runId)) throw new NightlyInputError(`run id '${options.runId}' may only hold letters, digits, - and _`);
  if (!SAFE_NAME.test(server)) throw new NightlyInputError(`'${server}' is not a Barman server name`);
  if (!/^\/[A-Za-z0-9_./-]*$/.test(workParent) || workParent.includes(".."))
    throw new NightlyInputError(`work directory parent '${workParent}' must be an absolute path without ..`);
  if (options.checks.length === 0 && !options.builtInChecks?.amcheck && !options.builtInChecks?.pgDump)
    throw new NightlyInputError(
      `no checks given for server '${server}': a verification without checks proves nothing (give nightly.checks, or switch on amcheck or pgDump)`,
    );
  barmanTargetArgs(target); // a target time without a UTC offset is refused here, before anything runs

  const { barman, label, running, status } = await connectBarman(options.barman, server, budgetOf(options, "recover"));
  /** Commands that are not `barman` (mktemp, rm, test): through the same transport, kept in the same transcript. */
  const onServer = async (argv: string[]): Promise<ExecResult> => {
    const result = await barman.transport.run(argv);
    barman.transcript.push(result);
    return result;
  };
  // Where the restored copy lives: the Barman server, or the verification host (its commands marked so in the transcript).
  const restoreHost = options.verificationHost ? verificationHostTransport(options.verificationHost, budgetOf(options, "recover")) : undefined;
  const onRestoreHostLabel = restoreHost ? `[${restoreHost.where}] ` : "";
  const onRestoreHost = !restoreHost
    ? onServer
    : async (argv: string[]): Promise<ExecResult> => {
        const result = await restoreHost.run(argv);
        barman.transcript.push({ ...result, command: `${onRestoreHostLabel}${result.command}` });
        return result;
      };
  const restoreTransport = restoreHost ?? barman.transport;
  const phasesMs = emptyPhases();
  const problems: string[] = [];
  const checks: NightlyCheckResult[] = [];
  let backup: BackupDetails | undefined;
  let workDirectory: string | undefined;
  /** The throwaway instance's image, chosen for the backup's major version. */
  let image = "";
  /** The phase under way, so that an unexpected error is still reported against it. */
  let current: NightlyPhase = "backup selection";
  let failedPhase: NightlyPhase | undefined;
  let wasInterrupted = false;
  let transferredBytes: number | null = null;
  let backupVerification: BackupVerification = notReachedVerification();
  let walContinuity: WalCoverage | null = null;
  let storage: BackupStorage | null = null;
  let configurationChanges: ConfigChange[] = [];
  let swept: Array<{ directory: string; why: string }> = [];
  let cause: CauseClass | null = null;
  /** The restored copy is checked against its manifest in the throwaway instance, because Barman could not check the backup itself (why, and Barman's words). */
  let verifyCopy: { reason: NotVerifiedReason; said: string } | undefined;
  const freshness = unknownFreshness(startedAt.toISOString());
  const ageS = (time: Date): number => Math.round((startedAt.getTime() - time.getTime()) / 100) / 10;
  /**
   * Freshness objectives missed, said at once and recorded after the run: a stale backup that also
   * fails to restore is first of all a backup that fails to restore (failedPhase is what to look at first).
   */
  const stale: string[] = [];
  const notFresh = (what: string): void => {
    stale.push(what);
    progress(`NOT FRESH: ${what}`);
  };
  /** One objective of options.freshness: a sentence with the age and the objective when it is exceeded. */
  const judgeAge = (what: string, age: number, objective: keyof FreshnessObjectives): void => {
    const limit = options.freshness?.[objective];
    if (limit !== undefined && age > limit)
      notFresh(`${what} is ${describeAge(age)} old, older than the objective ${objective} = ${describeAge(limit)} (${limit} s)`);
  };

  /** A problem: its cause line first, at most ~20 lines (every command's whole output stays in barmanCommands). */
  const fail = (phase: NightlyPhase, what: string): void => {
    const which = backup ? `backup ${backup.backupId}` : `backup ${options.backup}`;
    if (failedPhase === undefined) cause = causeOf(what);
    failedPhase ??= phase;
    const shown = causeFirst(what, { wholeTextIn: "the JSON report's barmanCommands" });
    problems.push(`${phase} failed for ${which} of server '${server}', target ${describeTarget(target)}: ${shown}`);
    progress(`FAILED in ${phase}: ${causeLine(what)}`);
  };
  /** True (and the problem recorded) when the run was asked to stop before `phase`. */
  const interrupted = (phase: NightlyPhase): boolean => {
    if (!options.signal?.aborted) return false;
    wasInterrupted = true;
    fail(phase, `interrupted (${String(options.signal.reason ?? "aborted")}) before this phase; what ran so far has been cleaned up`);
    return true;
  };

  const run = async (): Promise<void> => {
    if (!running) return fail("backup selection", `the Barman ${label} is not running (state: ${status})`);
    await assertServerKnown(barman, label);
    const selected = await selectBackup(barman, options.backup);
    if (typeof selected === "string") return fail("backup selection", selected);
    backup = selected;
    const major = postgresMajor(backup.postgresVersion);
    progress(
      `backup ${backup.backupId} of ${server}: PostgreSQL ${major}, ended ${backup.endTime.toISOString()}, ${(backup.sizeBytes / 1048576).toFixed(1)} MiB`,
    );
    freshness.backupEndTime = backup.endTime.toISOString();
    freshness.backupAgeS = ageS(backup.endTime);
    judgeAge(`backup ${backup.backupId} (ended ${freshness.backupEndTime})`, freshness.backupAgeS, "maxBackupAgeS");
    // Barman's own WAL catalogue: no PostgreSQL needed, so it is known even when the primary is down.
    const newestWal = await barman.newestArchivedWal().catch((error: Error) => error);
    if (newestWal instanceof Error) progress(`the newest archived WAL could not be read: ${newestWal.message.split("\n")[0]}`);
    else if (newestWal === undefined) notFresh(`Barman's WAL archive of server '${server}' is empty`);
    else {
      freshness.newestWalTime = newestWal.archivedAt.toISOString();
      freshness.newestWalAgeS = ageS(newestWal.archivedAt);
      progress(`newest archived WAL ${newestWal.segment}, archived ${describeAge(freshness.newestWalAgeS)} ago`);
      judgeAge(`the newest WAL segment in Barman's archive (${newestWal.segment}, archived ${freshness.newestWalTime})`, freshness.newestWalAgeS, "maxWalAgeS");
    }
    const chosen = await options.recoveryImage(major).catch((error: Error) => error);
    if (chosen instanceof Error) return fail("backup selection", chosen.message);
    image = chosen;
    progress(`throwaway instance image for PostgreSQL ${major}: ${image}`);

    // (b) The backup's files against its manifest: read-only, and cheaper than a recovery that fails late.
    current = "backup verification";
    if (interrupted(current)) return;
    const t = monotonicNow();
    const checked = await verifyBackupFiles(backup, major);
    phasesMs.verifyBackupMs = monotonicNow() - t;
    if (!checked) return;

    // (c) Every WAL segment the restore will ask for, in Barman's archive: a gap named now, not by a failed replay.
    current = "WAL verification";
    if (interrupted(current)) return;
    if (!(await verifyWalContinuity(backup, newestWal instanceof Error ? undefined : newestWal?.segment))) return;

    // (d) A fresh directory of our own (mktemp: never an existing one) with its run marker, removed
    // in every case below; first, the directories of runs that died before they could remove theirs.
    current = "barman recover";
    if (interrupted(current)) return;
    const sweep = await sweepStaleWorkDirectories({ onHost: onRestoreHost, parent: workParent, ownRunId: options.runId, thisMachine: hostname() }).catch(
      (error: Error) => error,
    );
    if (sweep instanceof Error) progress(`stale work directories in ${workParent} could not be looked for: ${sweep.message.split("\n")[0]}`);
    else {
      swept = sweep.removed;
      for (const { directory, why } of sweep.removed) progress(`removed ${directory} on ${restoreTransport.where}, left by a dead run: ${why}`);
      for (const { directory, error } of sweep.failed) progress(`could not remove ${directory}, left by a dead run: ${error}`);
    }
    const made = await onRestoreHost(["mktemp", "-d", `${workParent}/${WORK_PREFIX}${options.runId}-XXXXXX`]);
    if (made.exitCode !== 0)
      return fail("barman recover", `could not create a temporary directory in ${workParent} on ${restoreTransport.where}: ${words(made)}`);
    workDirectory = made.stdout.trim();
    try {
      await writeMarker(onRestoreHost, workDirectory, { runId: options.runId, pid: process.pid, machine: hostname(), startedAt: startedAt.toISOString() });
      await recoverAndCheck(workDirectory);
    } finally {
      await removeWorkDirectory(onRestoreHost, workDirectory).catch((error: Error) =>
        fail("clean-up", `${workDirectory} is still on ${restoreTransport.where}, remove it by hand (${error.message})`),
      );
    }
  };

  /**
   * Barman's verify-backup where it can judge (a plain backup with a manifest), else the restored
   * copy is checked in the throwaway instance (a tar backup, or no pg_verifybackup where Barman
   * looks), else one sentence says why nothing could be checked. False when the run stops here.
   */
  const verifyBackupFiles = async (selected: BackupDetails, major: number): Promise<boolean> => {
    const id = selected.backupId;
    const read = await barman.backupStorage(id).catch((error: Error) => error);
    if (read instanceof Error) {
      fail("backup verification", `the backup's files could not be listed in Barman's storage: ${read.message}`);
      return false;
    }
    storage = read;
    if (selected.encryption) {
      // Barman 3.20: "Backup verification is not supported for encrypted backups", and the restored copy carries no manifest.
      backupVerification = {
        verdict: "not verified",
        by: null,
        reason: "encrypted",
        sentence: `backup ${id} is encrypted (${selected.encryption}): Barman does not verify the backups it encrypts, and its restore leaves no manifest in the copy; the restore decrypts it (proving the key and passphrase), and the copy is checked physically (pg_checksums where data checksums are on, and the built-in checks)`,
      };
      progress(`NOT VERIFIED: ${backupVerification.sentence}`);
      return true;
    }
    if (!read.manifest) {
      backupVerification = {
        verdict: "not verified",
        by: null,
        reason: "no manifest",
        sentence: `backup ${id} has no backup_manifest (Barman's rsync method writes none): its files were not checked against a manifest; \`barman generate-manifest ${server} ${id}\`, or autogenerate_manifest = true for the next backups, gives it one. Checked physically instead: pg_checksums where data checksums are on, and the built-in checks`,
      };
      progress(`NOT VERIFIED: ${backupVerification.sentence}`);
      return true;
    }
    const verified = await barman.verifyBackupOutcome(id).catch((error: Error) => error);
    if (verified instanceof Error) {
      fail("backup verification", `barman verify-backup could not run: ${verified.message}`);
      return false;
    }
    if (verified.outcome === "damaged") {
      backupVerification = { verdict: "damaged", by: "barman verify-backup", reason: null, sentence: `pg_verifybackup found backup ${id} damaged` };
      fail("backup verification", `barman verify-backup found backup ${id} damaged (exit ${verified.exitCode}):\n${verified.said}`);
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
      verifyCopy = { reason: verified.outcome === "tool missing" ? "pg_verifybackup missing" : verified.outcome, said: `${verified.said}: ${why}` };
      progress(`barman verify-backup: ${verifyCopy.said}; the restored copy is checked against the backup's manifest instead`);
      return true;
    }
    backupVerification = { verdict: "verified", by: "barman verify-backup", reason: null, sentence: verified.said.split("\n").at(-1) ?? "verified" };
    progress(`barman verify-backup: ${backupVerification.sentence}`);
    return true;
  };

  /**
   * Every segment from the backup's first through the end of what the restore replays: the newest
   * archived one for a full replay (on the backup's timeline), the backup's last otherwise (a
   * target's own segments are proven by the replay). False when a segment is missing.
   */
  const verifyWalContinuity = async (selected: BackupDetails, newestSegment: string | undefined): Promise<boolean> => {
    let through = selected.endWal;
    if (target.kind === "latest" && newestSegment) {
      if (segmentTimeline(newestSegment) === segmentTimeline(selected.beginWal)) through = newestSegment;
      else progress(`the archive continues on timeline ${segmentTimeline(newestSegment)}: WAL checked through the backup's own end (${selected.endWal})`);
    }
    const coverage = await barman.walCoverage(selected.beginWal, through).catch((error: Error) => error);
    if (coverage instanceof Error) {
      fail("WAL verification", `Barman's WAL archive could not be read: ${coverage.message}`);
      return false;
    }
    walContinuity = coverage;
    if (coverage.missing.length > 0) {
      const named = coverage.missing.slice(0, 5).join(", ") + (coverage.missing.length > 5 ? ` and ${coverage.missing.length - 5} more` : "");
      fail(
        "WAL verification",
        `WAL segment ${named} missing from Barman's archive (${coverage.missing.length} of the ${coverage.segmentsChecked} segments from ${coverage.from} through ${coverage.through}, which the restore needs); a restore would stop at the first gap. Look at \`barman check ${server}\` and the archiver's log`,
      );
      return false;
    }
    progress(`WAL continuity: ${coverage.segmentsChecked} segment(s) ${coverage.from} .. ${coverage.through} all in Barman's archive`);
    return true;
  };

  const recoverAndCheck = async (workDirectory: string): Promise<void> => {
    const destination = `${workDirectory}/${PGDATA_NAME}`;
    progress(`barman recover ${server} ${backup!.backupId} ${destination} ${barmanTargetArgs(target).join(" ")}`);
    let t = monotonicNow();
    const recovered = await barman
      .recover({
        backupId: backup!.backupId,
        destination,
        target,
        remoteSshCommand: options.verificationHost?.remoteSshCommand,
        // A tar backup is unpacked there first, inside our own directory (removed with it).
        stagingPath: storage?.format === "tar" ? `${workDirectory}/staging` : undefined,
        onLine: (line) => progress(`  barman recover: ${line}`),
      })
      .catch((error: Error) => error);
    phasesMs.barmanRecoverMs = monotonicNow() - t;
    if (recovered instanceof Error) return fail("barman recover", recovered.message);

    // The copy's own configuration, read where it was restored, becomes the one the throwaway
    // instance runs with: what cannot hold in a throwaway copy (paths outside the data directory,
    // includes not in the backup, archiving, replication, ssl files) neutralised, every change listed.
    const readCopyFile = async (file: string): Promise<string | undefined> => {
      const read = await onRestoreHost(["cat", "--", `${destination}/${file}`]);
      return read.exitCode === 0 ? read.stdout : undefined;
    };
    const configuration = throwawayConfiguration({
      postgresqlConf: await readCopyFile("postgresql.conf"),
      autoConf: await readCopyFile("postgresql.auto.conf"),
      pgdata: destination,
      hbaFile: ISOLATED_HBA_FILE,
      socketDirectory: ISOLATED_SOCKET_DIRECTORY,
      availableLibraries: undefined,
    });
    configurationChanges = configuration.changes;
    for (const change of configuration.changes)
      progress(`configuration: ${change.setting} = ${change.from || "''"} -> ${change.to === null ? "removed" : change.to || "''"}: ${change.why}`);
    // Barman's restore renames the manifest to backup_manifest.<backup id> in the copy.
    const manifestName = `backup_manifest.${backup!.backupId}`;
    if (verifyCopy && (await onRestoreHost(["test", "-f", `${destination}/${manifestName}`])).exitCode !== 0) {
      backupVerification = {
        verdict: "not verified",
        by: null,
        reason: verifyCopy.reason,
        sentence: `backup ${backup!.backupId}'s files were not checked against its manifest: ${verifyCopy.said}, and Barman's restore left no ${manifestName} in the copy to check it there`,
      };
      verifyCopy = undefined;
      progress(`NOT VERIFIED: ${backupVerification.sentence}`);
    }

    // (d) tar on the Barman server, unpacked by Docker into the throwaway container before it starts.
    if (interrupted("transfer")) return;
    const name = `pgdrill-${options.runId}-nightly-${randomBytes(3).toString("hex")}`;
    progress(`streaming ${destination} into throwaway container ${name}`);
    current = "transfer";
    t = monotonicNow();
    // The archive holds one top-level directory, pgdata/, unpacked where the instance's PGDATA's parent is.
    const tarArgv = ["tar", "-C", workDirectory, "-cf", "-", PGDATA_NAME];
    const tar: CommandStream = await restoreTransport.stream(tarArgv);
    // Counted on the way through, with the stream's own back-pressure (a 'data' listener would not keep it).
    let bytesSeen = 0;
    const counted = tar.stdout.pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          bytesSeen += chunk.length;
          callback(null, chunk);
        },
      }),
    );
    tar.stdout.on("error", (error: Error) => counted.destroy(error));
    let transferred = false;
    const container = new RecoveredInstanceContainer({
      image,
      labels: { ...options.labels, [LABEL_ROLE]: THROWAWAY_ROLE },
      source: {
        kind: "archive",
        parent: workDirectory,
        archive: counted,
        afterCopy: async () => {
          await tar.finished();
          transferredBytes = bytesSeen;
          barman.transcript.push({ command: `${onRestoreHostLabel}${tarArgv.join(" ")}`, exitCode: 0, stdout: "", stderr: "", durationMs: monotonicNow() - t });
          phasesMs.transferMs = monotonicNow() - t;
          transferred = true;
          current = "instance start";
          t = monotonicNow();
        },
      },
      access: { kind: "isolated", database: options.database, user: dbUser },
      startupTimeoutMs: budgetsMs.recoveredInstancePromoted,
      statementTimeoutMs: budgetsMs.sqlStatement,
      configuration,
      verifyManifest: verifyCopy ? { manifest: manifestName, ignore: [...FILES_BARMAN_RESTORE_CHANGES, manifestName] } : undefined,
      stayAfterStop: true,
    }).withName(name);
    let instance: StartedRecoveredInstance | undefined;
    try {
      try {
        instance = await container.start();
      } catch (error) {
        tar.abort();
        if (!transferred) {
          // The sending side's own words first (a dropped SSH connection, tar's error), when it has ended.
          const sender = await withinBudget("the transfer's sender", TRANSFER_SENDER_EXIT, () => tar.finished()).then(
            () => undefined,
            (e: Error) => (e instanceof BudgetExceededError ? undefined : e.message),
          );
          return fail("transfer", `${destination} could not be copied into the throwaway instance: ${sender ? `${sender}; ` : ""}${(error as Error).message}`);
        }
        const startLog = error instanceof RecoveredInstanceStartError ? error.fullLog : "";
        const copyVerification = pgdrillLines(startLog, "copy verification");
        if (copyVerification.some((l) => /FAILED/.test(l))) {
          backupVerification = {
            verdict: "damaged",
            by: "pg_verifybackup on the restored copy",
            reason: null,
            sentence: `the restored copy of backup ${backup!.backupId} does not match its backup manifest`,
          };
          return fail(
            "backup verification",
            `the restored copy of backup ${backup!.backupId} does not match its backup manifest (pg_verifybackup in the throwaway instance, before it started):\n${pgdrillLines(startLog, "pg_verifybackup").join("\n")}`,
          );
        }
        if (error instanceof RecoveredInstanceStartError) {
          const why = fatalWithContext(startLog);
          return fail(
            "instance start",
            `the recovered instance did not start: ${why.length ? why.join("\n") : error.message}${missingLibraryAdvice(why.join("\n"))}`,
          );
        }
        return fail("instance start", `the recovered instance did not start: ${(error as Error).message}`);
      }
      if (verifyCopy) {
        const said = pgdrillLines(instance.serverLog(), "copy verification").at(0) ?? "verified";
        backupVerification = { verdict: "verified", by: "pg_verifybackup on the restored copy", reason: null, sentence: said };
        progress(`copy verification (pg_verifybackup in the throwaway instance): ${said}`);
      }
      // The database the checks (and every query below) run in must be in the copy: said with the
      // databases that are, through the maintenance database, before anything connects to it.
      const databases = await execIn(
        instance.getId(),
        ["psql", "-XAtq", "-U", dbUser, "-d", "postgres", "-c", "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1"],
        { user: "postgres", where: "the throwaway instance", allowFailure: true },
      );
      const names = databases.stdout.split("\n").filter(Boolean);
      if (databases.exitCode === 0 && !names.includes(options.database)) {
        phasesMs.instanceStartUntilPromotedMs = monotonicNow() - t;
        return fail(
          "verification",
          `the configured database '${options.database}' is not in this backup; its databases: ${names.join(", ")} (set nightly.servers.${server}.database, or --database)`,
        );
      }
      const status = await instance.one<{ in_recovery: boolean }>("SELECT pg_is_in_recovery() AS in_recovery").catch((error: Error) => error);
      phasesMs.instanceStartUntilPromotedMs = monotonicNow() - t;
      const log = instance.recoveryLog();
      if (status instanceof Error || status.in_recovery || log.fatalLines.length > 0) {
        const said = status instanceof Error ? status.message : status.in_recovery ? "still in recovery" : "";
        return fail(
          "instance start",
          `the recovered instance ${!(status instanceof Error) && !status.in_recovery ? "promoted but logged" : "is not a promoted primary"}: ${[...fatalWithContext(instance.serverLog()), said].filter(Boolean).join("\n")}`,
        );
      }
      progress(`instance promoted in ${seconds(phasesMs.instanceStartUntilPromotedMs)}`);

      // (f) The recovery point first: the checks below may commit (pg_amcheck installs its extension).
      const point = await readRecoveryPoint(instance, options.recoveryPointQuery).catch((error: Error) => error);
      if (point instanceof Error) fail("freshness", `the newest commit of the recovered data could not be read: ${point.message}`);
      else if ("time" in point) {
        freshness.recoveryPointTime = point.time.toISOString();
        freshness.recoveryPointAgeS = ageS(point.time);
        freshness.recoveryPointSource = point.source;
        progress(`recovery point ${freshness.recoveryPointTime} (${point.source}), ${describeAge(freshness.recoveryPointAgeS)} before this run`);
        judgeAge(
          `the newest commit the recovered data holds (${freshness.recoveryPointTime}, from ${point.source})`,
          freshness.recoveryPointAgeS,
          "maxRecoveryPointAgeS",
        );
      } else {
        progress(`recovery point unknown: ${point.unknown}`);
        if (options.freshness?.maxRecoveryPointAgeS !== undefined) notFresh(`the objective maxRecoveryPointAgeS cannot be judged: ${point.unknown}`);
      }

      // (g) The user's checks, each as JSON rows, then the built-in ones.
      current = "verification";
      if (interrupted(current)) return;
      t = monotonicNow();
      for (const check of options.checks) checks.push(await runCheck(instance, check));
      if (options.builtInChecks?.amcheck) checks.push(await runIntegrityCheck(instance, "amcheck"));
      if (options.builtInChecks?.pgDump) checks.push(await runIntegrityCheck(instance, "pg_dump"));
      // Last, as it needs the server shut down cleanly: every page of every file against its checksum.
      const pageChecks = await runPageChecksums(instance);
      if (pageChecks) checks.push(pageChecks);
      phasesMs.verificationMs = monotonicNow() - t;
      for (const c of checks.filter((c) => !c.ok)) {
        fail(
          "verification",
          c.kind !== "query"
            ? `${c.name} failed: ${c.error}`
            : c.error
              ? `check '${c.name}' could not run: ${c.error}`
              : `check '${c.name}' returned ${JSON.stringify(c.actual)}, expected ${JSON.stringify(c.expected)}`,
        );
      }
    } finally {
      // (g) Gone whatever happened: also a container that was created but never started.
      await instance?.stop().catch(() => undefined);
      await docker()
        .getContainer(name)
        .remove({ force: true, v: true })
        .catch((error: { statusCode?: number; message: string }) => {
          if (error.statusCode !== 404) fail("clean-up", `throwaway container ${name} could not be removed: ${error.message}`);
        });
    }
  };

  /**
   * pg_checksums --check over the whole copy, where the cluster keeps data checksums: the physical
   * check that needs no manifest (a flipped byte in an rsync backup is named by file and block).
   * pg_checksums refuses a cluster that was not shut down cleanly, which every online backup's copy
   * is until its recovery ends: so it runs after the checks, once PostgreSQL has stopped (the
   * container stays up for it, stayAfterStop). undefined where checksums are off (said once).
   */
  const runPageChecksums = async (instance: StartedRecoveredInstance): Promise<NightlyCheckResult | undefined> => {
    const name = "pg_checksums --check (every page)";
    const on = await instance.one<{ on: string }>("SELECT current_setting('data_checksums') AS on").catch((error: Error) => error);
    if (on instanceof Error || on.on !== "on") {
      progress(
        on instanceof Error
          ? `pg_checksums: data_checksums could not be read: ${on.message}`
          : "pg_checksums: not run, this cluster has no data checksums (initdb --data-checksums, or pg_checksums --enable on a stopped server, turns them on)",
      );
      return undefined;
    }
    const t = monotonicNow();
    const stopped = await execIn(instance.getId(), ["bash", "-c", 'pg_ctl stop -D "$PGDATA" -m fast -w -t 60'], {
      user: "postgres",
      where: "the throwaway instance",
      allowFailure: true,
    });
    const result =
      stopped.exitCode === 0
        ? await execIn(instance.getId(), underTimeout(["bash", "-c", 'pg_checksums --check -D "$PGDATA"'], budgetOf(options, "integrityCheck")), {
            user: "postgres",
            where: "the throwaway instance",
            allowFailure: true,
          })
        : stopped;
    const durationMs = monotonicNow() - t;
    const ok = result.exitCode === 0;
    const said = (result.stderr.trim() || result.stdout.trim()).split("\n");
    const failure = result === stopped ? `the server could not be shut down for it: ${said.join(" ")}` : said.slice(0, 20).join("\n");
    progress(`${name}: ${ok ? `ok in ${seconds(durationMs)} (${said.find((l) => /Blocks scanned/.test(l)) ?? ""})` : `FAILED: ${causeLine(failure)}`}`);
    return { name, kind: "pg_checksums", ok, expected: [], actual: null, ...(ok ? {} : { error: failure }), durationMs };
  };

  const runCheck = async (instance: StartedRecoveredInstance, check: NightlyCheck): Promise<NightlyCheckResult> => {
    const t = monotonicNow();
    const actual = await instance.rows(check.sql).catch((error: Error) => error);
    const durationMs = monotonicNow() - t;
    if (actual instanceof Error)
      return { name: check.name, kind: "query", ok: false, expected: check.expected, actual: null, error: actual.message, durationMs };
    const ok = JSON.stringify(actual) === JSON.stringify(check.expected);
    progress(`check '${check.name}': ${ok ? "ok" : `got ${JSON.stringify(actual)}, expected ${JSON.stringify(check.expected)}`}`);
    return { name: check.name, kind: "query", ok, expected: check.expected, actual, durationMs };
  };

  /**
   * A PostgreSQL tool run inside the throwaway instance, bounded by the integrityCheck budget on
   * the instance itself: pg_amcheck verifies every table and index of every database (with
   * --heapallindexed: every heap tuple has its index entries); pg_dump reads every row of every
   * database, as a restore to a new cluster would.
   */
  const runIntegrityCheck = async (instance: StartedRecoveredInstance, kind: "amcheck" | "pg_dump"): Promise<NightlyCheckResult> => {
    const name = kind === "amcheck" ? "pg_amcheck --heapallindexed (every database)" : "pg_dump of every database (full read)";
    const command =
      kind === "amcheck"
        ? ["pg_amcheck", "--all", "--heapallindexed", "--install-missing", "--username", dbUser, "--maintenance-db", options.database]
        : [
            "bash",
            "-c",
            // Every database that takes connections; a failure names its database and stops the loop.
            'set -o pipefail; psql -XAtq -U "$1" -d "$2" -c "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1" | while IFS= read -r db; do pg_dump --username "$1" --dbname "$db" --file /dev/null || { echo "pg_dump of database $db failed" >&2; exit 1; }; echo "$db"; done',
            "pg-dump-all",
            dbUser,
            options.database,
          ];
    const argv = underTimeout(command, budgetOf(options, "integrityCheck"));
    progress(`${name}: running`);
    const t = monotonicNow();
    const result = await execIn(instance.getId(), argv, { user: "postgres", where: "the throwaway instance", allowFailure: true });
    const durationMs = monotonicNow() - t;
    const timedOut = stoppedByTimeout(result.exitCode);
    const said = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-20).join("\n");
    const ok = result.exitCode === 0;
    progress(
      `${name}: ${ok ? "ok" : "FAILED"} in ${seconds(durationMs)}${kind === "pg_dump" && ok ? ` (${result.stdout.trim().split("\n").length} databases)` : ""}`,
    );
    return {
      name,
      kind,
      ok,
      expected: [],
      actual: null,
      ...(ok
        ? {}
        : {
            error: timedOut
              ? `still running after ${seconds(budgetsMs.integrityCheck)} (budget integrityCheck, ${budgetEnvName("integrityCheck")}); stopped`
              : `exit ${result.exitCode}: ${said || "(no output)"}`,
          }),
      durationMs,
    };
  };

  try {
    await run();
  } catch (error) {
    if (error instanceof NightlyInputError) throw error;
    // Anything unexpected still ends in a verdict a person can read, with the phase we were in.
    fail(current, (error as Error).message);
  }
  // The same RTO objectives as the drill's, on the phases this verification measured: judged when
  // the recovery itself went through (its speed means nothing otherwise), after freshness.
  const { barmanRecoverMs, instanceStartUntilPromotedMs, verificationMs } = phasesMs;
  const recovered = problems.length === 0 && barmanRecoverMs !== null && instanceStartUntilPromotedMs !== null && verificationMs !== null;
  for (const what of stale) fail("freshness", what);
  if (options.objectives && recovered) {
    for (const violation of evaluatePhaseObjectives({ barmanRecoverMs, instanceStartUntilPromotedMs, verificationMs }, options.objectives))
      fail("objectives", violation.message);
  }
  return {
    verdict: problems.length === 0 ? "pass" : "fail",
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    mode: modeOf(target),
    postgresMajor: backup ? postgresMajor(backup.postgresVersion) : undefined,
    freshness,
    transferredBytes,
    barman: label,
    server,
    backupId: backup?.backupId,
    backupEndTime: backup?.endTime.toISOString(),
    backupSizeBytes: backup?.sizeBytes,
    target,
    workDirectory,
    phasesMs,
    totalMs: monotonicNow() - started,
    checks,
    problems,
    failedPhase,
    interrupted: wasInterrupted,
    barmanCommands: barman.transcript.map((r) => {
      const output = (r.stdout + r.stderr).trim();
      return {
        command: r.command,
        exitCode: r.exitCode,
        durationMs: Math.round(r.durationMs),
        ...(r.exitCode !== 0 && output ? { output: output.length > OUTPUT_KEPT_CHARS ? `[... cut ...]\n${output.slice(-OUTPUT_KEPT_CHARS)}` : output } : {}),
      };
    }),
    backupVerification,
    walContinuity,
    storage,
    configurationChanges,
    swept,
    cause,
  };
}

/**
 * Files a Barman restore changes, adds or leaves out in the copy, which its manifest cannot
 * describe: the configuration it rewrites (archive_command and recovery settings commented out,
 * the originals kept as .origin), its own recovery metadata, the WAL it copies for the replay, and
 * tablespace_map, which it never unpacks from a tar backup (it places tablespaces itself:
 * recovery_executor.py, `exclude=["recovery.conf", "tablespace_map"]`). pg_verifybackup ignores
 * pg_wal, postgresql.auto.conf and recovery.signal by itself.
 */
const FILES_BARMAN_RESTORE_CHANGES = [
  "postgresql.conf",
  "postgresql.conf.origin",
  "postgresql.auto.conf.origin",
  ".barman-recover.info",
  "barman_wal",
  "tablespace_map",
];

/** The "pgdrill: <what>: ..." lines the throwaway instance's entrypoint wrote (containers/postgres/docker-entrypoint.sh). */
function pgdrillLines(log: string, what: string): string[] {
  const prefix = `pgdrill: ${what}`;
  return log
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length).replace(/^:?\s*/, ""));
}

/** A shared_preload_libraries entry the recovery image lacks: the line that says which image to give. */
function missingLibraryAdvice(fatal: string): string {
  const library = /could not access file "([^"]+)": No such file or directory/.exec(fatal)?.[1];
  return library
    ? `\nthe recovery image lacks the library '${library}' that the backup's shared_preload_libraries loads: give an image of this PostgreSQL major that has it with PGDRILL_RECOVERY_IMAGE`
    : "";
}

/**
 * The newest commit the recovered data holds: pg_last_committed_xact() where the server keeps
 * commit timestamps, else the user's query, else the last transaction replayed by an archive
 * recovery (a target; a recovery to the end of the WAL is a crash recovery, which keeps none).
 */
async function readRecoveryPoint(
  instance: StartedRecoveredInstance,
  query: string | undefined,
): Promise<{ time: Date; source: NonNullable<NightlyFreshness["recoveryPointSource"]> } | { unknown: string }> {
  const { tracked } = await instance.one<{ tracked: boolean }>("SELECT current_setting('track_commit_timestamp')::boolean AS tracked");
  if (tracked) {
    const { at } = await instance.one<{ at: string | null }>("SELECT (pg_last_committed_xact()).timestamp::text AS at");
    if (at) return { time: parsePgTimestamp(at), source: "pg_last_committed_xact" };
  }
  if (query) {
    const rows = await instance.rows(`SELECT (${query.trim().replace(/;\s*$/, "")})::timestamptz::text`);
    const value = rows[0]?.[0];
    if (typeof value !== "string") throw new Error(`recoveryPointQuery returned ${JSON.stringify(value ?? null)}, expected one timestamp`);
    return { time: parsePgTimestamp(value), source: "query" };
  }
  const { at } = await instance.one<{ at: string | null }>("SELECT pg_last_xact_replay_timestamp()::text AS at");
  if (at) return { time: parsePgTimestamp(at), source: "pg_last_xact_replay_timestamp" };
  return {
    unknown: tracked
      ? "track_commit_timestamp is on but the recovery replayed no commit (a backup-only recovery replays only the backup's own WAL); no recoveryPointQuery is configured"
      : "the recovered data has no commit timestamps (track_commit_timestamp is off) and no recoveryPointQuery is configured",
  };
}
