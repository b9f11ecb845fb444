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
import type { BarmanClient } from "../../containers/barman/barman-client.ts";
import type { BarmanTransport, CommandStream } from "../../containers/barman/transport.ts";
import { docker } from "../../containers/docker-resources.ts";
import { type ExecResult, execIn, words } from "../../containers/exec.ts";
import {
  ISOLATED_HBA_FILE,
  ISOLATED_PGDATA_NAME,
  ISOLATED_SOCKET_DIRECTORY,
  RecoveredInstanceContainer,
  type StartedRecoveredInstance,
} from "../../containers/postgres/recovered-instance.ts";
import type { BackupDetails } from "../barman/barman-output.ts";
import { barmanTargetArgs, type RecoveryTarget } from "../barman/recovery-target.ts";
import { budgetOf } from "../drill/config.ts";
import { evaluatePhaseObjectives } from "../drill/objectives.ts";
import { mebibytes, monotonicNow, seconds } from "../support/measure.ts";
import { BudgetExceededError, budget, withinBudget } from "../support/wait.ts";
import { judgeArchiveFreshness, selectBackup, verifyBackupFiles, verifyWalContinuity } from "./backup-phases.ts";
import { assertServerKnown, connectBarman, SAFE_NAME, verificationHostTransport } from "./barman-endpoint.ts";
import { type CheckedInstance, judgeRecoveryPoint, runInstanceChecks } from "./instance-checks.ts";
import { FILES_BARMAN_RESTORE_CHANGES, judgeStartedInstance, pgdrillLines, recordStartFailure } from "./instance-start.ts";
import { NightlyInputError, type NightlyMode, type NightlyResult, type VerifyExistingOptions } from "./nightly-result.ts";
import { postgresMajor } from "./recovery-image.ts";
import { type ThrowawayConfiguration, throwawayConfiguration } from "./throwaway-config.ts";
import { VerifyRecord } from "./verify-record.ts";
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

/** What restoreCopy leaves for the transfer. */
interface RestoredCopy {
  backupId: string;
  workDirectory: string;
  /** The copy's data directory, inside the work directory. */
  destination: string;
  configuration: ThrowawayConfiguration;
  /** The backup's manifest as Barman's restore renames it in the copy. */
  manifestName: string;
}

export function modeOf(target: RecoveryTarget): NightlyMode {
  return target.kind === "latest" ? "full WAL replay" : target.kind === "immediate" ? "backup only" : "target";
}

/** One server's verification under way: its inputs, Barman, where the copy is restored, and what has been found. */
interface VerifyRun {
  options: VerifyExistingOptions;
  target: RecoveryTarget;
  dbUser: string;
  workParent: string;
  startedAt: Date;
  barman: BarmanClient;
  /** The Barman server as the summary names it. */
  label: string;
  record: VerifyRecord;
  /** Where the restored copy lives: the Barman server, or the verification host. */
  restoreTransport: BarmanTransport;
  /** Commands (mktemp, cat, test, rm) on that host, kept in the transcript. */
  onRestoreHost: (argv: string[]) => Promise<ExecResult>;
  /** "[host] " before the verification host's commands in the transcript; empty on the Barman server. */
  restoreHostLabel: string;
}

export async function verifyExistingBackup(options: VerifyExistingOptions): Promise<NightlyResult> {
  const started = monotonicNow();
  const startedAt = new Date();
  const target = options.target ?? { kind: "latest" };
  const dbUser = options.dbUser ?? "postgres";
  const workParent = options.workParent ?? DEFAULT_WORK_PARENT;
  const { progress, server } = options;
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
  const record = new VerifyRecord({
    server,
    backupWanted: options.backup,
    target,
    freshnessObjectives: options.freshness,
    progress,
    signal: options.signal,
    startedAt,
  });

  const run: VerifyRun = {
    options,
    target,
    dbUser,
    workParent,
    startedAt,
    barman,
    label,
    record,
    restoreTransport,
    onRestoreHost,
    restoreHostLabel: onRestoreHostLabel,
  };
  try {
    await verifyServer(run, { running, status });
  } catch (error) {
    if (error instanceof NightlyInputError) throw error;
    // Anything unexpected still ends in a verdict a person can read, with the phase we were in.
    record.fail(record.current, (error as Error).message);
  }
  return nightlyResult(run, started);
}

/** The verdict: the freshness misses and RTO objectives judged after the run, and everything found, for the outputs. */
function nightlyResult(run: VerifyRun, started: number): NightlyResult {
  const { record, options, barman, label, target, startedAt } = run;
  const { server } = options;
  // The same RTO objectives as the drill's, on the phases this verification measured: judged when
  // the recovery itself went through (its speed means nothing otherwise), after freshness.
  const { barmanRecoverMs, instanceStartUntilPromotedMs, verificationMs } = record.phasesMs;
  const recovered = record.problems.length === 0 && barmanRecoverMs !== null && instanceStartUntilPromotedMs !== null && verificationMs !== null;
  record.recordStaleness();
  if (options.objectives && recovered) {
    for (const violation of evaluatePhaseObjectives({ barmanRecoverMs, instanceStartUntilPromotedMs, verificationMs }, options.objectives))
      record.fail("objectives", violation.message);
  }
  const { backup } = record;
  return {
    verdict: record.problems.length === 0 ? "pass" : "fail",
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    mode: modeOf(target),
    postgresMajor: backup ? postgresMajor(backup.postgresVersion) : undefined,
    freshness: record.freshness,
    transferredBytes: record.transferredBytes,
    barman: label,
    server,
    backupId: backup?.backupId,
    backupEndTime: backup?.endTime.toISOString(),
    backupSizeBytes: backup?.sizeBytes,
    target,
    workDirectory: record.workDirectory,
    phasesMs: record.phasesMs,
    totalMs: monotonicNow() - started,
    checks: record.checks,
    problems: record.problems,
    failedPhase: record.failedPhase,
    interrupted: record.wasInterrupted,
    barmanCommands: barman.transcript.map((r) => {
      const output = (r.stdout + r.stderr).trim();
      return {
        command: r.command,
        exitCode: r.exitCode,
        durationMs: Math.round(r.durationMs),
        ...(r.exitCode !== 0 && output ? { output: output.length > OUTPUT_KEPT_CHARS ? `[... cut ...]\n${output.slice(-OUTPUT_KEPT_CHARS)}` : output } : {}),
      };
    }),
    backupVerification: record.backupVerification,
    walContinuity: record.walContinuity,
    storage: record.storage,
    configurationChanges: record.configurationChanges,
    swept: record.swept,
    cause: record.cause,
  };
}

/** (a) to (c): the backup chosen and judged from Barman's catalogue, then restored and checked in a work directory. */
async function verifyServer(run: VerifyRun, state: { running: boolean; status: string }): Promise<void> {
  const { barman, record, target, options, label } = run;
  const { progress, server } = options;
  if (!state.running) return record.fail("backup selection", `the Barman ${label} is not running (state: ${state.status})`);
  await assertServerKnown(barman, label);
  const selected = await selectBackup(barman, options.backup);
  if (typeof selected === "string") return record.fail("backup selection", selected);
  const backup = selected;
  record.backup = backup;
  const major = postgresMajor(backup.postgresVersion);
  progress(`backup ${backup.backupId} of ${server}: PostgreSQL ${major}, ended ${backup.endTime.toISOString()}, ${mebibytes(backup.sizeBytes)} MiB`);
  const newestSegment = await judgeArchiveFreshness(record, barman, backup);
  const chosen = await options.recoveryImage(major).catch((error: Error) => error);
  if (chosen instanceof Error) return record.fail("backup selection", chosen.message);
  record.image = chosen;
  progress(`throwaway instance image for PostgreSQL ${major}: ${record.image}`);

  // (b) The backup's files against its manifest: read-only, and cheaper than a recovery that fails late.
  if (record.enter("backup verification")) return;
  const t = monotonicNow();
  const checked = await verifyBackupFiles(record, barman, backup, major);
  record.phasesMs.verifyBackupMs = monotonicNow() - t;
  if (!checked) return;

  // (c) Every WAL segment the restore will ask for, in Barman's archive: a gap named now, not by a failed replay.
  if (record.enter("WAL verification")) return;
  if (!(await verifyWalContinuity(record, barman, backup, target, newestSegment))) return;
  await inWorkDirectory(run, backup);
}

/**
 * A fresh directory of our own (mktemp: never an existing one) with its run marker, removed in
 * every case; first, the directories of runs that died before they could remove theirs.
 */
async function inWorkDirectory(run: VerifyRun, backup: BackupDetails): Promise<void> {
  const { record, options, onRestoreHost, restoreTransport, workParent, startedAt } = run;
  const { progress } = options;
  if (record.enter("barman recover")) return;
  const sweep = await sweepStaleWorkDirectories({ onHost: onRestoreHost, parent: workParent, ownRunId: options.runId, thisMachine: hostname() }).catch(
    (error: Error) => error,
  );
  if (sweep instanceof Error) progress(`stale work directories in ${workParent} could not be looked for: ${sweep.message.split("\n")[0]}`);
  else {
    record.swept = sweep.removed;
    for (const { directory, why } of sweep.removed) progress(`removed ${directory} on ${restoreTransport.where}, left by a dead run: ${why}`);
    for (const { directory, error } of sweep.failed) progress(`could not remove ${directory}, left by a dead run: ${error}`);
  }
  const made = await onRestoreHost(["mktemp", "-d", `${workParent}/${WORK_PREFIX}${options.runId}-XXXXXX`]);
  if (made.exitCode !== 0)
    return record.fail("barman recover", `could not create a temporary directory in ${workParent} on ${restoreTransport.where}: ${words(made)}`);
  const workDirectory = made.stdout.trim();
  record.workDirectory = workDirectory;
  try {
    await writeMarker(onRestoreHost, workDirectory, { runId: options.runId, pid: process.pid, machine: hostname(), startedAt: startedAt.toISOString() });
    await recoverAndCheck(run, backup, workDirectory);
  } finally {
    await removeWorkDirectory(onRestoreHost, workDirectory).catch((error: Error) =>
      record.fail("clean-up", `${workDirectory} is still on ${restoreTransport.where}, remove it by hand (${error.message})`),
    );
  }
}

/** (d) barman recover into the work directory, and the copy's configuration made one a throwaway instance can run with. */
async function restoreCopy(run: VerifyRun, backup: BackupDetails, workDirectory: string): Promise<RestoredCopy | undefined> {
  const { barman, record, target, options, onRestoreHost } = run;
  const { progress, server } = options;
  const destination = `${workDirectory}/${PGDATA_NAME}`;
  progress(`barman recover ${server} ${backup.backupId} ${destination} ${barmanTargetArgs(target).join(" ")}`);
  const t = monotonicNow();
  const recovered = await barman
    .recover({
      backupId: backup.backupId,
      destination,
      target,
      remoteSshCommand: options.verificationHost?.remoteSshCommand,
      // A tar backup is unpacked there first, inside our own directory (removed with it).
      stagingPath: record.storage?.format === "tar" ? `${workDirectory}/staging` : undefined,
      onLine: (line) => progress(`  barman recover: ${line}`),
    })
    .catch((error: Error) => error);
  record.phasesMs.barmanRecoverMs = monotonicNow() - t;
  if (recovered instanceof Error) {
    record.fail("barman recover", recovered.message);
    return undefined;
  }

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
  record.configurationChanges = configuration.changes;
  for (const change of configuration.changes)
    progress(`configuration: ${change.setting} = ${change.from || "''"} -> ${change.to === null ? "removed" : change.to || "''"}: ${change.why}`);
  // Barman's restore renames the manifest to backup_manifest.<backup id> in the copy.
  const manifestName = `backup_manifest.${backup.backupId}`;
  if (record.verifyCopy && (await onRestoreHost(["test", "-f", `${destination}/${manifestName}`])).exitCode !== 0) {
    record.backupVerification = {
      verdict: "not verified",
      by: null,
      reason: record.verifyCopy.reason,
      sentence: `backup ${backup.backupId}'s files were not checked against its manifest: ${record.verifyCopy.said}, and Barman's restore left no ${manifestName} in the copy to check it there`,
    };
    record.verifyCopy = undefined;
    progress(`NOT VERIFIED: ${record.backupVerification.sentence}`);
  }
  return { backupId: backup.backupId, workDirectory, destination, configuration, manifestName };
}

/**
 * (e) tar of the copy on the restore host, unpacked by Docker into the throwaway container before
 * it starts. The started instance and when its start began (the copy arrived), or undefined
 * with the failure recorded.
 */
async function transferAndStart(
  run: VerifyRun,
  copy: RestoredCopy,
  name: string,
): Promise<{ instance: StartedRecoveredInstance; startedAt: number } | undefined> {
  const { barman, record, options, restoreTransport, dbUser } = run;
  const { progress, budgetsMs } = options;
  progress(`streaming ${copy.destination} into throwaway container ${name}`);
  let t = monotonicNow();
  // The archive holds one top-level directory, pgdata/, unpacked where the instance's PGDATA's parent is.
  const tarArgv = ["tar", "-C", copy.workDirectory, "-cf", "-", PGDATA_NAME];
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
    image: record.image,
    labels: { ...options.labels, [LABEL_ROLE]: THROWAWAY_ROLE },
    source: {
      kind: "archive",
      parent: copy.workDirectory,
      archive: counted,
      afterCopy: async () => {
        await tar.finished();
        record.transferredBytes = bytesSeen;
        barman.transcript.push({ command: `${run.restoreHostLabel}${tarArgv.join(" ")}`, exitCode: 0, stdout: "", stderr: "", durationMs: monotonicNow() - t });
        record.phasesMs.transferMs = monotonicNow() - t;
        transferred = true;
        record.current = "instance start";
        t = monotonicNow();
      },
    },
    access: { kind: "isolated", database: options.database, user: dbUser },
    startupTimeoutMs: budgetsMs.recoveredInstancePromoted,
    statementTimeoutMs: budgetsMs.sqlStatement,
    configuration: copy.configuration,
    verifyManifest: record.verifyCopy ? { manifest: copy.manifestName, ignore: [...FILES_BARMAN_RESTORE_CHANGES, copy.manifestName] } : undefined,
    stayAfterStop: true,
  }).withName(name);
  const instance = await container.start().catch((error: Error) => error);
  if (instance instanceof Error) {
    tar.abort();
    // The sending side's own words first (a dropped SSH connection, tar's error), when it has ended.
    const senderSaid = transferred
      ? undefined
      : await withinBudget("the transfer's sender", TRANSFER_SENDER_EXIT, () => tar.finished()).then(
          () => undefined,
          (e: Error) => (e instanceof BudgetExceededError ? undefined : e.message),
        );
    recordStartFailure(record, { error: instance, transferred, senderSaid, destination: copy.destination, backupId: copy.backupId });
    return undefined;
  }
  return { instance, startedAt: t };
}

/** The started instance: the copy's verdict where it was checked in it, its databases, its promotion. True when the checks can run. */
async function confirmPromoted(run: VerifyRun, instance: StartedRecoveredInstance, startedAt: number): Promise<boolean> {
  const { record, options, dbUser } = run;
  const { progress } = options;
  if (record.verifyCopy) {
    const said = pgdrillLines(instance.serverLog(), "copy verification").at(0) ?? "verified";
    record.backupVerification = { verdict: "verified", by: "pg_verifybackup on the restored copy", reason: null, sentence: said };
    progress(`copy verification (pg_verifybackup in the throwaway instance): ${said}`);
  }
  // The database the checks (and every query below) run in must be in the copy: listed through
  // the maintenance database, before anything connects to it.
  const databases = await execIn(
    instance.getId(),
    ["psql", "-XAtq", "-U", dbUser, "-d", "postgres", "-c", "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1"],
    { user: "postgres", where: "the throwaway instance", allowFailure: true },
  );
  const listed = databases.exitCode === 0 ? databases.stdout.split("\n").filter(Boolean) : undefined;
  const inRecovery =
    listed && !listed.includes(options.database)
      ? false
      : await instance
          .one<{ in_recovery: boolean }>("SELECT pg_is_in_recovery() AS in_recovery")
          .then((r) => r.in_recovery)
          .catch((error: Error) => error);
  record.phasesMs.instanceStartUntilPromotedMs = monotonicNow() - startedAt;
  const promoted = judgeStartedInstance(record, {
    database: options.database,
    databases: listed,
    inRecovery,
    fatalLines: instance.recoveryLog().fatalLines,
    serverLog: instance.serverLog(),
  });
  if (promoted) progress(`instance promoted in ${seconds(record.phasesMs.instanceStartUntilPromotedMs)}`);
  return promoted;
}

/** (d) to (h): the copy restored, moved into the throwaway instance, started and checked; the instance removed whatever happened. */
async function recoverAndCheck(run: VerifyRun, backup: BackupDetails, workDirectory: string): Promise<void> {
  const { record, options, dbUser } = run;
  const copy = await restoreCopy(run, backup, workDirectory);
  if (!copy || record.enter("transfer")) return;
  const name = `pgdrill-${options.runId}-nightly-${randomBytes(3).toString("hex")}`;
  let instance: StartedRecoveredInstance | undefined;
  try {
    const started = await transferAndStart(run, copy, name);
    instance = started?.instance;
    if (!started || !(await confirmPromoted(run, started.instance, started.startedAt))) return;
    const { instance: promoted } = started;
    // (f) The recovery point first: the checks below may commit (pg_amcheck installs its extension).
    const checked = checkedInstance(promoted);
    await judgeRecoveryPoint(record, checked, options.recoveryPointQuery);
    // (g) The user's checks, each as JSON rows, then the built-in ones.
    if (record.enter("verification")) return;
    record.phasesMs.verificationMs = await runInstanceChecks(record, checked, {
      checks: options.checks,
      builtInChecks: options.builtInChecks,
      database: options.database,
      dbUser,
      integrityCheck: budgetOf(options, "integrityCheck"),
    });
  } finally {
    // (h) Gone whatever happened: also a container that was created but never started.
    await instance?.stop().catch(() => undefined);
    await docker()
      .getContainer(name)
      .remove({ force: true, v: true })
      .catch((error: { statusCode?: number; message: string }) => {
        if (error.statusCode !== 404) record.fail("clean-up", `throwaway container ${name} could not be removed: ${error.message}`);
      });
  }
}

/** The throwaway instance as the checks see it: its SQL session, and commands run in its container as postgres. */
function checkedInstance(instance: StartedRecoveredInstance): CheckedInstance {
  return {
    one: (sql) => instance.one(sql),
    rows: (sql) => instance.rows(sql),
    exec: (argv) => execIn(instance.getId(), argv, { user: "postgres", where: "the throwaway instance", allowFailure: true }),
  };
}
