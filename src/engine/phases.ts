// The one drill engine: every phase of a drill, from the configuration (pgdrill.config.ts) to a
// judged recovery. Each phase acts and returns what it measured and the artefacts it produced
// (command output, postgresql.auto.conf, check lines, timings); checking those results is the
// assertions layer's job (src/asserts), reporting is the caller's (the ordered suites, the failure
// drills, the benchmark, the nightly verification).

import { execIn } from "../../containers/exec.ts";
import { ensureImages } from "../../containers/images.ts";
import { type Platform, resolvePlatform } from "../../containers/platforms.ts";
import type { StartedRecoveredInstance } from "../../containers/postgres/recovered-instance.ts";
import type { SqlSession } from "../../containers/postgres/sql-session.ts";
import type { BackupDetails, BackupListEntry, CheckLine } from "../barman-output.ts";
import { segmentTimeline } from "../barman-output.ts";
import type { DrillSettings, TargetKindName } from "../config.ts";
import { budgetOf } from "../config.ts";
import {
  type DrillConfig,
  DrillConfigError,
  type LoadedDrillConfig,
  type PrimaryContext,
  type PrimaryLayout,
  resolveStep,
  type VerificationQuery,
} from "../drill-config.ts";
import { monotonicNow } from "../metrics.ts";
import type { RecoveryLogFacts } from "../recovery-log.ts";
import { describeTarget, type RecoveryTarget, targetForKind } from "../recovery-target.ts";
import { snapshotTables, type TableSnapshot } from "./row-digest.ts";
import { DrillEnvironment, type DrillRun } from "./topology.ts";

/** The restore point every drill creates at its good state (the seed's name). */
export const RESTORE_POINT = "before_disaster";

type ResolvedStep = string | ((primary: PrimaryContext) => Promise<void>);

/** A configuration made ready to run: files read, defaults applied. */
export interface DrillPlan {
  name: string;
  configPath: string;
  database: string;
  serverName: string;
  seed: ResolvedStep[];
  normalWork: ResolvedStep[];
  disaster: string[];
  tables: string[];
  queries: VerificationQuery[];
  expect: NonNullable<DrillConfig["expect"]>;
  /** Recovery targets, in order; the first is the drill's main recovery, judged against the objectives. */
  targets: TargetKindName[];
  barmanSettings: Record<string, string>;
  primarySettings: Record<string, string>;
  primaryLayout: PrimaryLayout;
  /** `barman recover --jobs`: the config's recover.jobs, else Barman's parallel_jobs setting, else 1. */
  recoverJobs: number;
  /** The PostgreSQL and Barman versions (config, PGDRILL_POSTGRES / PGDRILL_BARMAN). */
  platform: Platform;
  /** The WAL paths this Barman setup uses (both by default; archive_command only when streaming is off). */
  walPaths: { streaming: boolean; archiveCommand: boolean };
}

/** Reads a loaded configuration's files; `targets` (PGDRILL_TARGET_KINDS) overrides the config's. */
/** `targets` overrides the config's (PGDRILL_TARGET_KINDS); `platform` the config's and the environment's (a matrix of pairs). */
export async function resolvePlan(loaded: LoadedDrillConfig, options: { targets?: TargetKindName[]; platform?: Platform } = {}): Promise<DrillPlan> {
  const { config, path } = loaded;
  const missing = (["seed", "normalWork", "disaster", "verify"] as const).filter((field) => config[field] === undefined);
  if (missing.length > 0) {
    throw new DrillConfigError(
      path,
      missing.map((field) => `config.${field}: a drill needs it (a configuration with only nightly.checks is for npm run verify:existing)`),
    );
  }
  const resolveAll = (steps: DrillConfig["seed"]): Promise<ResolvedStep[]> => Promise.all((steps ?? []).map((step) => resolveStep(step, path)));
  const barmanSettings = config.barman?.settings ?? {};
  let platform: Platform;
  try {
    platform = options.platform ?? resolvePlatform({ postgres: config.postgres?.version, barman: config.barman?.version, platform: config.platform });
  } catch (error) {
    throw new DrillConfigError(path, [(error as Error).message]);
  }
  return {
    platform,
    name: config.name,
    configPath: path,
    database: config.database ?? "app",
    serverName: config.barman?.serverName ?? "pg-primary",
    seed: await resolveAll(config.seed),
    normalWork: await resolveAll(config.normalWork),
    disaster: (await resolveAll(config.disaster)) as string[],
    tables: config.verify!.tables,
    queries: config.verify!.queries ?? [],
    expect: config.expect ?? {},
    targets: options.targets ?? config.targets ?? ["time"],
    barmanSettings,
    primarySettings: config.primary?.settings ?? {},
    primaryLayout: config.primary?.layout ?? "official",
    recoverJobs: config.recover?.jobs ?? Number(barmanSettings["parallel_jobs"] ?? 1),
    walPaths: { streaming: (barmanSettings["streaming_archiver"] ?? "on") !== "off", archiveCommand: true },
  };
}

/** A phase's result with its duration on the monotonic clock. */
async function timed<T extends object>(work: () => Promise<T>): Promise<T & { durationMs: number }> {
  const started = monotonicNow();
  const result = await work();
  return { ...result, durationMs: monotonicNow() - started };
}

// --- Topology ---------------------------------------------------------------------------------------

export async function prepareTopology(
  plan: DrillPlan,
  options: { name: string; run: DrillRun; settings: DrillSettings; progress: (line: string) => void; primaryDataVolume?: boolean; publishBarmanSsh?: boolean },
): Promise<DrillEnvironment> {
  // Built once per version and cached by content hash: a run on the default platform finds them.
  const { images } = await ensureImages({ platform: plan.platform, baseOverride: options.settings.baseImage, progress: options.progress });
  return DrillEnvironment.start({
    images,
    name: options.name,
    run: options.run,
    settings: options.settings,
    serverName: plan.serverName,
    database: plan.database,
    progress: options.progress,
    barmanServerSettings: plan.barmanSettings,
    primarySettings: plan.primarySettings,
    primaryLayout: plan.primaryLayout,
    primaryDataVolume: options.primaryDataVolume,
    publishBarmanSsh: options.publishBarmanSsh,
  });
}

/** Where a server reads its configuration and keeps its data (SHOW config_file, data_directory). */
export interface ConfigurationPlace {
  configFile: string;
  dataDirectory: string;
}

export async function readConfigurationPlace(server: SqlSession): Promise<ConfigurationPlace> {
  return server.one<{ configFile: string; dataDirectory: string }>(
    `SELECT current_setting('config_file') AS "configFile", current_setting('data_directory') AS "dataDirectory"`,
  );
}

/** The versions the servers report, for the report, the metrics and the history. */
export async function readVersions(env: DrillEnvironment): Promise<{ postgres: string; barman: string }> {
  const [postgres, barman] = await Promise.all([
    env.primary.one<{ v: string }>("SELECT current_setting('server_version') AS v").then((r) => r.v),
    env.barman.version(),
  ]);
  return { postgres, barman };
}

// --- Work on the primary ----------------------------------------------------------------------------

function primaryContext(env: DrillEnvironment, database: string): PrimaryContext {
  return {
    sql: (text, params) => env.primary.query(text, params ?? []),
    exec: async (argv) =>
      (await execIn(env.primary.getId(), argv, { user: "postgres", env: { PGDATABASE: database, PGUSER: env.superuser.user }, where: "the primary" })).stdout,
  };
}

async function runSteps(env: DrillEnvironment, plan: DrillPlan, steps: ResolvedStep[], what: string): Promise<void> {
  const context = primaryContext(env, plan.database);
  for (const [i, step] of steps.entries()) {
    try {
      if (typeof step === "function") await step(context);
      else await env.primary.query(step);
    } catch (error) {
      throw new Error(`config.${what}[${i}] failed on the primary: ${(error as Error).message}`);
    }
  }
}

export async function serverNow(db: SqlSession): Promise<string> {
  return (await db.one<{ now: string }>("SELECT now()::text AS now")).now;
}

export interface Seeded {
  /** The tables as loaded, before the backup: what --target-immediate must give back. */
  baseline: TableSnapshot;
  durationMs: number;
}

export async function seed(env: DrillEnvironment, plan: DrillPlan): Promise<Seeded> {
  return timed(async () => {
    await runSteps(env, plan, plan.seed, "seed");
    return { baseline: await snapshotTables(env.primary, plan.tables) };
  });
}

export interface BackedUp {
  backup: BackupDetails;
  output: string;
  /** `barman list-backup` right after: where a person would look for it. */
  listed: BackupListEntry[];
  durationMs: number;
}

export async function backUp(env: DrillEnvironment, onLine?: (line: string) => void, options: { incrementalFrom?: string } = {}): Promise<BackedUp> {
  return timed(async () => {
    // `barman backup --wait` waits for the WAL file of the backup's end. When the backup ends on a
    // segment boundary, newer Barman versions (3.13 and later) wait for the next segment, which an
    // idle primary never fills: write and switch WAL once, as an operator would (switch-wal).
    let nudged: Promise<unknown> | undefined;
    const { backupId, output } = await env.barman.backup({
      budgetMs: env.settings.budgetsMs.backup,
      incrementalFrom: options.incrementalFrom,
      onLine: (line) => {
        onLine?.(line);
        if (!nudged && /Waiting for the WAL file/.test(line)) nudged = env.nudgeWal().catch(() => undefined);
      },
    });
    await nudged;
    const [backup, listed] = await Promise.all([env.barman.showBackup(backupId), env.barman.listBackups()]);
    return { backup, output, listed };
  });
}

export interface NormalWork {
  /** The tables after the normal work. */
  snapshot: TableSnapshot;
  durationMs: number;
}

export async function doNormalWork(env: DrillEnvironment, plan: DrillPlan): Promise<NormalWork> {
  return timed(async () => {
    await runSteps(env, plan, plan.normalWork, "normalWork");
    return { snapshot: await snapshotTables(env.primary, plan.tables) };
  });
}

export interface GoodState {
  /** Server time after the restore point: the --target-time of the drill. */
  time: string;
  restorePoint: string;
  /** LSN pg_create_restore_point returned. */
  restorePointLsn: string;
  snapshot: TableSnapshot;
  /** The config's verification queries as the primary answered them. */
  queries: Record<string, unknown[][]>;
}

export async function markGoodState(env: DrillEnvironment, plan: DrillPlan): Promise<GoodState> {
  const { lsn, time } = await env.primary.one<{ lsn: string; time: string }>("SELECT pg_create_restore_point($1)::text AS lsn, now()::text AS time", [
    RESTORE_POINT,
  ]);
  const queries: Record<string, unknown[][]> = {};
  for (const q of plan.queries) queries[q.name] = await env.primary.rows(q.sql);
  return { time, restorePoint: RESTORE_POINT, restorePointLsn: lsn, snapshot: await snapshotTables(env.primary, plan.tables), queries };
}

export interface Disaster {
  xid: number;
  /** Server time right after the commit. */
  time: string;
  /** WAL segment holding the commit. */
  segment: string;
  /** Rows the disaster's statements reported (0 for DDL such as DROP TABLE). */
  rowsAffected: number;
  /** The tables after the disaster. */
  snapshot: TableSnapshot;
  /** Monotonic clock at the commit: the start of the RTO. */
  committedAt: number;
}

/** The accident, in one transaction whose id is recorded (the xid target, and the log check). */
export async function causeDisaster(env: DrillEnvironment, plan: DrillPlan): Promise<Disaster> {
  const primary = env.primary;
  await primary.query("BEGIN");
  let xid: number;
  let rowsAffected = 0;
  try {
    xid = Number((await primary.one<{ xid: string }>("SELECT txid_current()::text AS xid")).xid);
    for (const [i, sql] of plan.disaster.entries()) {
      try {
        rowsAffected += (await primary.client.query(sql)).rowCount ?? 0;
      } catch (error) {
        throw new Error(`config.disaster[${i}] failed on the primary: ${(error as Error).message}`);
      }
    }
    await primary.query("COMMIT");
  } catch (error) {
    await primary.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
  const committedAt = monotonicNow();
  const { time, segment } = await primary.one<{ time: string; segment: string }>(
    "SELECT now()::text AS time, pg_walfile_name(pg_current_wal_lsn()) AS segment",
  );
  return { xid, time, segment, rowsAffected, snapshot: await snapshotTables(primary, plan.tables), committedAt };
}

export interface ArchivedThroughDisaster {
  /** The segment pg_switch_wal() closed: it holds the disaster's commit. */
  closedSegment: string;
  checkLines: CheckLine[];
  durationMs: number;
}

/** Switch WAL, wait until the closed segment (holding the disaster) is in Barman's archive, then `barman check`. */
export async function archiveWalThroughDisaster(env: DrillEnvironment): Promise<ArchivedThroughDisaster> {
  return timed(async () => {
    const { closedSegment } = await env.switchWal();
    await env.barman.waitForArchivedSegment(closedSegment, budgetOf(env.settings, "walArchived"));
    return { closedSegment, checkLines: await env.barman.check() };
  });
}

// --- Before the recovery: the backup and the WAL ----------------------------------------------------

/** What the drill learned before the recovery: the facts a target is built from. */
export interface DrillFacts {
  baseline: TableSnapshot;
  backup: BackupDetails;
  goodState: GoodState;
  disaster: Disaster;
  closedSegment: string;
}

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
