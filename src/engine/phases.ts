// The one drill engine: the phases of a drill from the configuration (pgdrill.config.ts) to the
// WAL archived through the disaster; the recovery's phases are in recovery-phases.ts. Each phase
// acts and returns what it measured and the artefacts it produced (command output,
// postgresql.auto.conf, check lines, timings); checking those results is the assertions layer's
// job (src/asserts), reporting is the caller's (the ordered suites, the failure drills, the
// benchmark, the nightly verification).

import { execIn } from "../../containers/exec.ts";
import { ensureImages } from "../../containers/images.ts";
import { type Platform, resolvePlatform } from "../../containers/platforms.ts";
import type { SqlSession } from "../../containers/postgres/sql-session.ts";
import type { BackupDetails, BackupListEntry, CheckLine } from "../barman/barman-output.ts";
import type { DrillSettings, TargetKindName } from "../drill/config.ts";
import { budgetOf } from "../drill/config.ts";
import {
  type DrillConfig,
  DrillConfigError,
  type LoadedDrillConfig,
  type PrimaryContext,
  type PrimaryLayout,
  resolveStep,
  type VerificationQuery,
} from "../drill/drill-config.ts";
import { monotonicNow, timed } from "../support/measure.ts";
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
