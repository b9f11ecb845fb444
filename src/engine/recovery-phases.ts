// The recovery half of the drill engine: which target a drill recovers to, the backup and WAL
// checks before a recovery, barman recover into the recovery volume, the recovered instance started
// until promoted, and what it holds. Like phases.ts, each phase acts and returns what it measured;
// checking is src/asserts' job.

import type { StartedRecoveredInstance } from "../../containers/postgres/recovered-instance.ts";
import type { SqlSession } from "../../containers/postgres/sql-session.ts";
import type { BackupDetails } from "../barman/barman-output.ts";
import { segmentTimeline } from "../barman/barman-output.ts";
import { describeTarget, type RecoveryTarget, targetForKind } from "../barman/recovery-target.ts";
import type { TargetKindName } from "../drill/config.ts";
import type { RecoveryLogFacts } from "../postgres/recovery-log.ts";
import { monotonicNow, timed } from "../support/measure.ts";
import type { DrillFacts, DrillPlan } from "./phases.ts";
import { snapshotTables, type TableSnapshot } from "./row-digest.ts";
import type { DrillEnvironment } from "./topology.ts";

export function targetOf(kind: TargetKindName, facts: Pick<DrillFacts, "goodState" | "disaster">): RecoveryTarget {
  return targetForKind(kind, {
    time: facts.goodState.time,
    restorePoint: facts.goodState.restorePoint,
    lsn: facts.goodState.restorePointLsn,
    xid: facts.disaster.xid,
  });
}

/**
 * The last WAL segment a recovery to `kind` reads: the end of the backup for immediate, the
 * restore point's for a name or LSN, the disaster's commit for a time or an xid (recovery to a
 * time stops at the first commit after it), the last archived for no target.
 */
export async function walNeededThrough(env: DrillEnvironment, kind: TargetKindName, facts: DrillFacts): Promise<string> {
  switch (kind) {
    case "immediate":
      return facts.backup.endWal;
    case "name":
    case "lsn":
      return (await env.primary.one<{ segment: string }>("SELECT pg_walfile_name($1::pg_lsn) AS segment", [facts.goodState.restorePointLsn])).segment;
    case "latest":
      return facts.closedSegment;
    default:
      return facts.disaster.segment;
  }
}

export interface BackupVerification {
  /** `barman verify-backup`'s words (pg_verifybackup against the manifest); undefined without a manifest. */
  verifyOutput: string | undefined;
  /** Why verify-backup could not run (rsync backups have no backup_manifest). */
  notVerified?: string;
  /** The backup as `barman show-backup` describes it now. */
  backup: BackupDetails;
  /** Every segment from the backup's start to the last one the targets need, checked in the archive. */
  wal: import("../../containers/barman/barman-client.ts").WalCoverage;
  durationMs: number;
}

/** `barman verify-backup` where the backup has a manifest; otherwise says why it was not verified. */
export async function verifyBackupIfManifest(env: DrillEnvironment, backupId: string): Promise<{ verifyOutput: string | undefined; notVerified?: string }> {
  if (!(await env.barman.backupDataExists(backupId))) {
    throw new Error(`backup ${backupId} is in Barman's catalogue but its files are gone from Barman's storage (no data directory)`);
  }
  if (!(await env.barman.backupHasManifest(backupId))) {
    return {
      verifyOutput: undefined,
      notVerified: `backup ${backupId} has no backup_manifest (backup_method = rsync writes none), so barman verify-backup cannot check its files`,
    };
  }
  // Only pg_verifybackup's own complaint is damage (the nightly verification classifies the same words).
  const verified = await env.barman.verifyBackupOutcome(backupId);
  if (verified.outcome === "damaged")
    throw new Error(`barman verify-backup found backup ${backupId} of ${env.barman.serverName} damaged (exit ${verified.exitCode}):\n${verified.said}`);
  if (verified.outcome !== "verified")
    return { verifyOutput: undefined, notVerified: `barman verify-backup could not check backup ${backupId} (${verified.outcome}): ${verified.said}` };
  return { verifyOutput: verified.said };
}

/**
 * Every backup of the chain `backupId` restores from, the root first: an incremental backup is
 * only as good as its parents. A parent that is gone or damaged fails naming it.
 */
export async function verifyBackupChain(
  env: DrillEnvironment,
  backupId: string,
): Promise<{ backup: BackupDetails; chain: string[]; verifyOutput: string | undefined; notVerified?: string }> {
  const chain: string[] = [];
  let backup: BackupDetails | undefined;
  for (let id: string | undefined = backupId; id !== undefined; ) {
    const child = chain.at(-1);
    const details: BackupDetails = await env.barman.showBackup(id).catch((error: Error) => {
      throw new Error(`backup ${id}${child ? `, the parent of ${child},` : ""} cannot be read: ${error.message}`);
    });
    backup ??= details;
    chain.push(id);
    id = details.parentBackupId;
  }
  const outputs: string[] = [];
  const notVerified: string[] = [];
  for (const id of [...chain].reverse()) {
    const verified = await verifyBackupIfManifest(env, id).catch((error: Error) => {
      throw new Error(id === backupId ? error.message : `the parent backup ${id} of ${backupId} is damaged or missing: ${error.message}`);
    });
    if (verified.verifyOutput !== undefined) outputs.push(verified.verifyOutput);
    if (verified.notVerified) notVerified.push(verified.notVerified);
  }
  return {
    backup: backup!,
    chain,
    verifyOutput: outputs.length ? outputs.join("\n") : undefined,
    ...(notVerified.length ? { notVerified: notVerified.join("; ") } : {}),
  };
}

/** verify-backup, then every WAL segment from the backup's first through `walThrough` present and readable. */
export async function verifyBackupAndWal(env: DrillEnvironment, options: { backupId: string; walThrough: string }): Promise<BackupVerification> {
  return timed(async () => {
    // The chain's walk already read the backup's catalogue entry: no second show-backup.
    const verified = await verifyBackupChain(env, options.backupId);
    return { ...verified, wal: await env.barman.walCoverage(verified.backup.beginWal, options.walThrough) };
  });
}

// --- The recovery -----------------------------------------------------------------------------------

export type RecoveryPhase = "backup verification" | "WAL verification" | "barman recover" | "instance start" | "verification";

export class RecoveryFailedError extends Error {
  constructor(
    readonly phase: RecoveryPhase,
    readonly backupId: string,
    readonly target: RecoveryTarget,
    readonly serverWords: string,
  ) {
    super(`Recovery of backup ${backupId} to ${describeTarget(target)} failed in ${phase}:\n${serverWords}`);
    this.name = "RecoveryFailedError";
  }
}

export interface RecoveredCopy {
  directory: string;
  output: string;
  /** What Barman wrote for PostgreSQL: restore_command, the target, archive_command = false. */
  autoConf: string;
  recoverySignal: boolean;
  durationMs: number;
}

/** `barman recover` into a directory of the recovery volume; the instance is started separately, so several copies can be made first. */
export async function recoverToTarget(
  env: DrillEnvironment,
  options: { backupId: string; target: RecoveryTarget; directory: string; jobs?: number; walFromBarman?: boolean; onLine?: (line: string) => void },
): Promise<RecoveredCopy> {
  const started = monotonicNow();
  let output: string;
  try {
    const destination = await env.recoveryDirectories.prepare(options.directory);
    // A compressed (tar) backup (barman.settings.backup_compression) is unpacked in a staging
    // directory first, beside the copy on the recovery volume; Barman empties it afterwards.
    const { format } = await env.barman.backupStorage(options.backupId);
    output = await env.barman.recover({
      backupId: options.backupId,
      destination,
      target: options.target,
      jobs: options.jobs,
      getWal: options.walFromBarman,
      stagingPath: format === "tar" ? `${destination}-staging` : undefined,
      onLine: options.onLine,
    });
    // WAL fetched at replay from the Barman server, as Barman sets it up for a remote restore.
    if (options.walFromBarman) await env.recoveryDirectories.useBarmanWalRestore(options.directory);
  } catch (error) {
    throw new RecoveryFailedError("barman recover", options.backupId, options.target, (error as Error).message);
  }
  const durationMs = monotonicNow() - started;
  const [autoConf, recoverySignal] = await Promise.all([
    env.recoveryDirectories.readFile(options.directory, "postgresql.auto.conf"),
    env.recoveryDirectories.exists(`${options.directory}/recovery.signal`),
  ]);
  return { directory: options.directory, output, autoConf, recoverySignal, durationMs };
}

export interface PromotedInstance {
  instance: StartedRecoveredInstance;
  log: RecoveryLogFacts;
  durationMs: number;
}

/** Starts the recovered instance until it has reached its target and promoted (or says why not, in PostgreSQL's words). */
export async function startUntilPromoted(
  env: DrillEnvironment,
  options: { backupId: string; target: RecoveryTarget; directory: string; walFromBarman?: boolean; asNewPrimary?: { settings: Record<string, string> } },
): Promise<PromotedInstance> {
  const started = monotonicNow();
  let instance: StartedRecoveredInstance;
  try {
    instance = await env.startRecoveredInstance(options.directory, { walFromBarman: options.walFromBarman, asNewPrimary: options.asNewPrimary });
  } catch (error) {
    throw new RecoveryFailedError("instance start", options.backupId, options.target, (error as Error).message);
  }
  return { instance, log: instance.recoveryLog(), durationMs: monotonicNow() - started };
}

export interface RecoveredState {
  snapshot: TableSnapshot;
  queries: Record<string, unknown[][]>;
  inRecovery: boolean;
  timeline: number;
  durationMs: number;
}

/** Everything the recovered instance holds that the assertions compare: tables, queries, recovery status, timeline. */
export async function readRecoveredState(instance: SqlSession, plan: Pick<DrillPlan, "tables" | "queries">): Promise<RecoveredState> {
  return timed(async () => {
    const snapshot = await snapshotTables(instance, plan.tables);
    const queries: Record<string, unknown[][]> = {};
    for (const q of plan.queries) queries[q.name] = await instance.rows(q.sql).catch((error: Error) => [[`error: ${error.message}`]]);
    const status = await instance.one<{ in_recovery: boolean; segment: string }>(
      "SELECT pg_is_in_recovery() AS in_recovery, pg_walfile_name(pg_current_wal_lsn()) AS segment",
    );
    return { snapshot, queries, inRecovery: status.in_recovery, timeline: segmentTimeline(status.segment) };
  });
}

/** The recovered instance takes writes: a probe table created and filled in a transaction rolled back. */
export async function probeWrites(instance: SqlSession): Promise<{ readOnly: string; rowsWritten: number }> {
  const { readOnly } = await instance.one<{ readOnly: string }>("SELECT current_setting('transaction_read_only') AS \"readOnly\"");
  await instance.query("BEGIN");
  try {
    await instance.query("CREATE TABLE pgdrill_write_probe (id int)");
    const [row] = await instance.query<{ n: number }>("WITH w AS (INSERT INTO pgdrill_write_probe VALUES (1) RETURNING id) SELECT count(*)::int AS n FROM w");
    return { readOnly, rowsWritten: row?.n ?? 0 };
  } finally {
    await instance.query("ROLLBACK");
  }
}

/** Removes a recovered instance and its data directory. */
export async function removeRecovery(env: DrillEnvironment, directory: string): Promise<void> {
  await env.stopRecoveredInstance(directory);
  await env.recoveryDirectories.remove(directory);
}
