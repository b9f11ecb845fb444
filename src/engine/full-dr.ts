// Scenario 13, the full disaster-recovery drill, on the one engine: the primary's host is lost
// under a steady write load, the newest state Barman has is restored and promoted, the application's
// one address (PgBouncer) is switched to it, Barman follows the new primary, and a second
// point-in-time recovery on the new timeline proves the new setup is protected. Each phase acts and
// returns what it measured; checking is src/asserts/full-dr-asserts.ts, reporting the suite's.

import { randomBytes } from "node:crypto";
import { PgBouncerContainer, type StartedPgBouncer } from "../../containers/pgbouncer/pgbouncer-container.ts";
import type { StartedRecoveredInstance } from "../../containers/postgres/recovered-instance.ts";
import type { SqlSession } from "../../containers/postgres/sql-session.ts";
import { compareSegmentPosition, segmentTimeline } from "../barman/barman-output.ts";
import type { RecoveryTarget } from "../barman/recovery-target.ts";
import type { DrillSettings } from "../drill/config.ts";
import { budgetOf } from "../drill/config.ts";
import { DrillConfigError, FULL_DR_DEFAULTS, type FullDrConfig, type LoadedDrillConfig } from "../drill/drill-config.ts";
import { type DataLoss, measureDataLoss, outageFromLog, type WorkloadAttempt } from "../scenario-13/data-loss.ts";
import { monotonicNow } from "../support/measure.ts";
import { pollUntil } from "../support/wait.ts";
import { type DrillPlan, prepareTopology, resolvePlan } from "./phases.ts";
import { type PromotedInstance, type RecoveredCopy, recoverToTarget, startUntilPromoted } from "./recovery-phases.ts";
import { snapshotTables, type TableSnapshot } from "./row-digest.ts";
import type { DrillEnvironment, DrillRun } from "./topology.ts";
import { SteadyWorkload, WORKLOAD_TABLE, workloadTableSql } from "./workload.ts";

/** The application's role: the workload writes as it, through PgBouncer. */
const APPLICATION_ROLE = "app_writer";
/** Barman's default streaming_archiver_name: what synchronous_standby_names must name. */
const RECEIVE_WAL_NAME = "barman_receive_wal";

export interface FullDrPlan extends DrillPlan {
  fullDr: Required<Pick<FullDrConfig, "walMode">> & {
    archiveTimeoutS?: number;
    ratePerSecond: number;
    commitsBeforeDisaster: number;
    objectives: { rpoCommits: number; rpoSeconds: number; rtoApplicationS: number };
  };
}

/** A configuration with `fullDr` made ready: its WAL mode turned into Barman's and PostgreSQL's settings. */
export async function resolveFullDrPlan(loaded: LoadedDrillConfig): Promise<FullDrPlan> {
  const fullDr = loaded.config.fullDr;
  if (!fullDr) throw new DrillConfigError(loaded.path, ["config.fullDr: a full disaster-recovery drill needs it (walMode, workload, objectives)"]);
  const plan = await resolvePlan(loaded);
  const streamingSetting = plan.barmanSettings["streaming_archiver"];
  if (fullDr.walMode !== "archive" && streamingSetting === "off") {
    throw new DrillConfigError(loaded.path, [`config.barman.settings.streaming_archiver = off contradicts config.fullDr.walMode = ${fullDr.walMode}`]);
  }
  if (plan.primarySettings["synchronous_standby_names"] !== undefined) {
    throw new DrillConfigError(loaded.path, [
      "config.primary.settings.synchronous_standby_names: the drill sets it itself (walMode synchronous names Barman's receive-wal)",
    ]);
  }
  const barmanSettings = { ...plan.barmanSettings, ...(fullDr.walMode === "archive" ? { streaming_archiver: "off" } : {}) };
  const primarySettings = { ...plan.primarySettings, ...(fullDr.archiveTimeoutS !== undefined ? { archive_timeout: `${fullDr.archiveTimeoutS}s` } : {}) };
  return {
    ...plan,
    barmanSettings,
    primarySettings,
    walPaths: { streaming: fullDr.walMode !== "archive", archiveCommand: true },
    fullDr: {
      walMode: fullDr.walMode,
      archiveTimeoutS: fullDr.archiveTimeoutS,
      ratePerSecond: fullDr.workload?.ratePerSecond ?? FULL_DR_DEFAULTS.ratePerSecond,
      commitsBeforeDisaster: fullDr.workload?.commitsBeforeDisaster ?? 2 * (fullDr.workload?.ratePerSecond ?? FULL_DR_DEFAULTS.ratePerSecond),
      objectives: { ...FULL_DR_DEFAULTS.objectives, ...fullDr.objectives },
    },
  };
}

export interface FullDrEnvironment {
  env: DrillEnvironment;
  bouncer: StartedPgBouncer;
  workload: SteadyWorkload;
}

/**
 * Scenario 12's topology (the primary's PGDATA on a volume of its own), the application's role and
 * table, PgBouncer in front of the primary, and for walMode synchronous Barman's receive-wal made
 * the synchronous standby. The workload is created, not started.
 */
export async function prepareFullDrTopology(
  plan: FullDrPlan,
  options: { name: string; run: DrillRun; settings: DrillSettings; progress: (line: string) => void },
): Promise<FullDrEnvironment> {
  const env = await prepareTopology(plan, { ...options, primaryDataVolume: true });
  const applicationPassword = randomBytes(18).toString("base64url");
  const adminPassword = randomBytes(18).toString("base64url");
  env.secrets.push(applicationPassword, adminPassword);
  await env.primary.query(`CREATE ROLE ${APPLICATION_ROLE} LOGIN PASSWORD ${env.primary.client.escapeLiteral(applicationPassword)}`);
  for (const sql of workloadTableSql(APPLICATION_ROLE)) await env.primary.query(sql);
  options.progress("starting PgBouncer, the application's address, in front of pg-primary");
  const bouncer = await new PgBouncerContainer({
    image: env.images.postgres,
    network: env.network,
    labels: env.labels,
    database: plan.database,
    serverHost: "pg-primary",
    application: { user: APPLICATION_ROLE, password: applicationPassword },
    adminPassword,
    startupTimeoutMs: options.settings.budgetsMs.containerStart,
  })
    .withName(`${env.prefix}-pgbouncer`)
    .start();
  env.companions.push(bouncer);
  if (plan.fullDr.walMode === "synchronous") {
    options.progress(`synchronous_standby_names = '${RECEIVE_WAL_NAME}': receive-wal restarted as the synchronous standby`);
    await makeReceiveWalSynchronous(env, env.primary);
  }
  const workload = new SteadyWorkload({
    connectionString: bouncer.applicationUri(),
    ratePerSecond: plan.fullDr.ratePerSecond,
    commitTimeoutMs: options.settings.budgetsMs.workloadCommit,
  });
  return { env, bouncer, workload };
}

export interface ReplicationState {
  applicationName: string;
  state: string;
  syncState: string;
}

async function receiveWalReplication(server: SqlSession): Promise<ReplicationState | undefined> {
  const rows = await server.query<{ application_name: string; state: string; sync_state: string }>(
    "SELECT application_name, state, sync_state FROM pg_stat_replication WHERE application_name = $1",
    [RECEIVE_WAL_NAME],
  );
  const row = rows[0];
  return row ? { applicationName: row.application_name, state: row.state, syncState: row.sync_state } : undefined;
}

/** receive-wal named the synchronous standby of `server` (Barman's documented synchronous WAL streaming). */
async function nameReceiveWalSynchronous(server: SqlSession): Promise<void> {
  await server.query(`ALTER SYSTEM SET synchronous_standby_names = '${RECEIVE_WAL_NAME}'`);
  await server.query("SELECT pg_reload_conf()");
}

/** Waits until PostgreSQL itself reports Barman's receive-wal as its synchronous standby, streaming. */
function waitForSynchronousReceiveWal(env: DrillEnvironment, server: SqlSession): Promise<ReplicationState> {
  return pollUntil({
    what: `Barman's receive-wal as the synchronous standby (pg_stat_replication.sync_state = 'sync' for ${RECEIVE_WAL_NAME})`,
    budget: budgetOf(env.settings, "synchronousStreaming"),
    probe: () => receiveWalReplication(server),
    done: (r) => r?.syncState === "sync" && r.state === "streaming",
    describe: (r) => (r ? `state ${r.state}, sync_state ${r.syncState}` : `no ${RECEIVE_WAL_NAME} in pg_stat_replication`),
    intervalMs: 100,
  }) as Promise<ReplicationState>;
}

/**
 * Synchronous streaming on the first primary, before any workload: the name set, then receive-wal
 * restarted, because Barman decides at start whether pg_receivewal runs --synchronous. Nothing
 * commits in between (a reload needs no transaction id), so nothing waits on a missing standby.
 */
export async function makeReceiveWalSynchronous(env: DrillEnvironment, server: SqlSession): Promise<ReplicationState> {
  await nameReceiveWalSynchronous(server);
  await env.barman.restartWalStreaming(budgetOf(env.settings, "walStreamingReady"));
  return waitForSynchronousReceiveWal(env, server);
}

/** Starts the workload and waits for its first second of acknowledged commits (at least one). */
export async function startWorkload(fe: FullDrEnvironment, budgetMs: number): Promise<{ firstAck: WorkloadAttempt; acked: number }> {
  const wanted = Math.max(1, Math.round(fe.workload.ratePerSecond));
  fe.workload.start();
  let acked = 0;
  await fe.workload.waitFor((a) => a.outcome === "acked" && ++acked >= wanted, {
    what: `the workload's first ${wanted} acknowledged commits through PgBouncer`,
    name: "workloadCommitted",
    ms: budgetMs,
  });
  return { firstAck: fe.workload.acknowledged()[0]!, acked: fe.workload.acknowledged().length };
}

export interface WorkloadShipped {
  /** The primary's WAL position after the workload's first second. */
  lsn: string;
  /** How Barman got it: pg_stat_archiver's last archived segment, or receive-wal's flush position. */
  evidence: string;
  acked: number;
}

/**
 * Lets the workload run until (1) the WAL of its first second has reached Barman (the segment
 * archived by archive_command, or flushed by receive-wal), so that the recovery must bring back
 * part of the workload in every WAL mode, and (2) `commitsBeforeDisaster` commits are acknowledged.
 * Both are events, each with its budget.
 */
export async function runWorkloadUntilShipped(fe: FullDrEnvironment, plan: FullDrPlan): Promise<WorkloadShipped> {
  const { env, workload } = fe;
  const { lsn, segment } = await env.primary.one<{ lsn: string; segment: string }>(
    "SELECT pg_current_wal_lsn()::text AS lsn, pg_walfile_name(pg_current_wal_lsn()) AS segment",
  );
  const shipped =
    plan.fullDr.walMode === "archive"
      ? await pollUntil({
          what: `the workload's WAL (segment ${segment}) archived to Barman by archive_command`,
          budget: budgetOf(env.settings, "walArchived"),
          probe: () => env.primary.one<{ last: string | null }>("SELECT last_archived_wal AS last FROM pg_stat_archiver"),
          done: (r) => r.last !== null && /^[0-9A-F]{24}$/.test(r.last) && compareSegmentPosition(r.last, segment) >= 0,
          describe: (r) => `last archived: ${r.last ?? "none"}`,
        }).then((r) => `pg_stat_archiver.last_archived_wal = ${r.last}`)
      : // write_lsn, not flush_lsn: an asynchronous pg_receivewal fsyncs (and reports flush) only when a
        // segment is complete; what it has written it reports every status interval (10 s).
        await pollUntil({
          what: `the workload's WAL (up to ${lsn}) written by Barman's receive-wal`,
          budget: budgetOf(env.settings, "walArchived"),
          probe: () =>
            env.primary
              .query<{ written: string | null; reached: boolean }>(
                "SELECT write_lsn::text AS written, write_lsn >= $1::pg_lsn AS reached FROM pg_stat_replication WHERE application_name = $2",
                [lsn, RECEIVE_WAL_NAME],
              )
              .then((rows) => rows[0]),
          done: (r) => r?.reached === true,
          describe: (r) => (r ? `receive-wal wrote up to ${r.written}` : "receive-wal not connected"),
        }).then((r) => `pg_stat_replication.write_lsn = ${r?.written} for ${RECEIVE_WAL_NAME}`);
  const wanted = plan.fullDr.commitsBeforeDisaster;
  if (workload.acknowledged().length < wanted) {
    let acked = workload.acknowledged().length;
    await workload.waitFor((a) => a.outcome === "acked" && ++acked >= wanted, {
      what: `${wanted} acknowledged commits of the workload (fullDr.workload.commitsBeforeDisaster)`,
      name: "workloadCommitted",
      ms: env.settings.budgetsMs.workloadCommitted,
    });
  }
  return { lsn, evidence: shipped, acked: workload.acknowledged().length };
}

export interface HostLoss {
  /** Client monotonic clock at the kill. */
  killedAt: number;
  volumeDestroyed: string | undefined;
  attemptsBefore: number;
}

/** SIGKILL in the middle of the workload, the container removed, its data volume destroyed. */
export async function loseThePrimaryHost(fe: FullDrEnvironment): Promise<HostLoss> {
  const attemptsBefore = fe.workload.attempts.length;
  const { killedAt, volumeDestroyed } = await fe.env.losePrimaryHost();
  return { killedAt, volumeDestroyed, attemptsBefore };
}

export interface Detection {
  lastAckBeforeLoss: WorkloadAttempt;
  firstFailure: WorkloadAttempt;
  /** Client monotonic clock when the drill saw the failure. */
  detectedAt: number;
}

/** Waits for the application's first failed attempt after the loss: the outage as it is detected. */
export async function detectOutage(fe: FullDrEnvironment, loss: HostLoss, budgetMs: number): Promise<Detection> {
  const already = outageFromLog(fe.workload.attempts, loss.killedAt).firstFailure;
  if (!already) {
    await fe.workload
      .waitFor((a) => a.outcome === "failed" && a.doneAtMs >= loss.killedAt, {
        what: "the workload's first failed attempt after the primary's host was lost",
        name: "outageDetected",
        ms: budgetMs,
      })
      .catch((error: Error) => {
        throw new Error(`${error.message}; the application still gets answers, so the old primary (or something at its address) is still up`);
      });
  }
  const detectedAt = monotonicNow();
  const outage = outageFromLog(fe.workload.attempts, loss.killedAt);
  if (!outage.lastAckBeforeLoss) throw new Error("the workload had no acknowledged commit before the primary's host was lost");
  return { lastAckBeforeLoss: outage.lastAckBeforeLoss, firstFailure: outage.firstFailure!, detectedAt };
}

/** The application's address fenced: no client reaches any server through it until the switchover. */
export async function fenceApplication(fe: FullDrEnvironment): Promise<void> {
  await fe.bouncer.fence();
}

/** The newest state Barman has: no target, WAL fetched from Barman at replay including the partial segment. */
export const NEWEST_STATE: RecoveryTarget = { kind: "latest" };

export interface NewPrimary {
  copy: RecoveredCopy;
  promoted: PromotedInstance;
  instance: StartedRecoveredInstance;
  host: string;
  timeline: number;
}

/**
 * `barman recover --get-wal` of the newest backup with no target: PostgreSQL replays every WAL
 * file Barman has, the streaming modes' .partial segment included (barman-wal-restore -P, as
 * Barman writes it for a recovery that is not a standby), then promotes on a new timeline. The
 * instance starts as production: archiving to Barman from its first second, the primary's own
 * settings, but no synchronous standby yet (none follows it; commits would wait forever).
 */
export async function recoverNewestState(fe: FullDrEnvironment, plan: FullDrPlan, backupId: string): Promise<NewPrimary> {
  const directory = "new-primary";
  const copy = await recoverToTarget(fe.env, { backupId, target: NEWEST_STATE, directory, jobs: plan.recoverJobs, walFromBarman: true });
  // The backup carries the lost primary's synchronous_standby_names (ALTER SYSTEM, in
  // postgresql.auto.conf): removed before the start, or the first commit would wait for a standby
  // that does not follow this server yet. Not a command-line setting: that would outrank the
  // ALTER SYSTEM that turns it back on once Barman follows (barmanFollowsNewPrimary).
  if (plan.fullDr.walMode === "synchronous") await fe.env.recoveryDirectories.removeSetting(directory, "synchronous_standby_names");
  const settings = { ...plan.primarySettings, archive_command: `barman-wal-archive barman ${plan.serverName} %p` };
  const promoted = await startUntilPromoted(fe.env, { backupId, target: NEWEST_STATE, directory, walFromBarman: true, asNewPrimary: { settings } });
  const { segment } = await promoted.instance.one<{ segment: string }>("SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment");
  return { copy, promoted, instance: promoted.instance, host: `pg-recovered-${directory}`, timeline: segmentTimeline(segment) };
}

/**
 * Every workload id the new primary holds, against the application's log. Measured before the
 * switchover, so every acknowledgement in the log came from the lost primary (PgBouncer reached
 * no other server).
 */
export async function measureLoss(fe: FullDrEnvironment, server: SqlSession): Promise<DataLoss & { attemptsConsidered: number }> {
  const rows = await server.query<{ id: string }>(`SELECT id::text FROM ${WORKLOAD_TABLE}`);
  const attempts = [...fe.workload.attempts];
  return {
    ...measureDataLoss(
      attempts,
      rows.map((r) => Number(r.id)),
    ),
    attemptsConsidered: attempts.length,
  };
}

export interface Switchover {
  startedAt: number;
  /** PgBouncer's database entry after RELOAD. */
  pointsAt: string;
  /** The end of the switch itself: PgBouncer answered, or the first commit went through. */
  switchedAt: number;
  firstAckOnNewPrimary: WorkloadAttempt;
}

/** PgBouncer re-pointed at the new primary; the workload, which never stopped trying, commits again. */
export async function switchApplication(fe: FullDrEnvironment, newPrimary: NewPrimary, budgetMs: number): Promise<Switchover> {
  const startedAt = monotonicNow();
  const firstAck = fe.workload.waitFor((a) => a.outcome === "acked" && a.sentAtMs >= startedAt, {
    what: "the workload's first acknowledged commit on the new primary",
    name: "workloadCommitted",
    ms: budgetMs,
  });
  // Handled here too: PgBouncer's answer may come after the budget ran out.
  firstAck.catch(() => undefined);
  const { host } = await fe.bouncer.pointAt(newPrimary.host);
  const reloadAnsweredAt = monotonicNow();
  const firstAckOnNewPrimary = await firstAck;
  fe.env.adoptAsPrimary(newPrimary.instance);
  // The workload's first commit can be acknowledged before PgBouncer's own answers to RELOAD,
  // ENABLE and SHOW DATABASES reach the drill: the switch ends at whichever came first.
  return { startedAt, pointsAt: host, switchedAt: Math.min(reloadAnsweredAt, firstAckOnNewPrimary.doneAtMs), firstAckOnNewPrimary };
}

export interface BarmanFollows {
  streamingOutput?: string;
  historyFile: string;
  /** Its size in Barman's archive, read after the wait: undefined if it is not there. */
  historyFileBytes: number | undefined;
  replication?: ReplicationState;
  durationMs: number;
}

/**
 * Barman re-pointed at the new primary: conninfo and streaming_conninfo, then (streaming modes)
 * the slot and receive-wal on it; the new timeline's history file archived; for walMode
 * synchronous, receive-wal the synchronous standby again. The new base backup is taken by the
 * caller (the engine's backUp phase, which now writes to the new primary).
 */
export async function barmanFollowsNewPrimary(fe: FullDrEnvironment, plan: FullDrPlan, newPrimary: NewPrimary): Promise<BarmanFollows> {
  const started = monotonicNow();
  const { env } = fe;
  await env.barmanServer.pointAt(newPrimary.host);
  // Named before receive-wal starts on the new primary, so Barman starts it --synchronous. The
  // application's commits wait from here until it streams: the price of zero loss, measured by
  // the workload's commit latency (step 11 of the suite).
  if (plan.fullDr.walMode === "synchronous") await nameReceiveWalSynchronous(newPrimary.instance);
  let streamingOutput: string | undefined;
  if (plan.fullDr.walMode !== "archive") streamingOutput = await env.barman.followNewPrimaryStreaming(budgetOf(env.settings, "walStreamingReady"));
  const historyFile = `${newPrimary.timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
  await env.barman.waitForArchivedSegment(historyFile, budgetOf(env.settings, "walArchived"));
  const historyFileBytes = await env.barman.archivedFileBytes(historyFile);
  let replication: ReplicationState | undefined;
  if (plan.fullDr.walMode === "synchronous") replication = await waitForSynchronousReceiveWal(env, newPrimary.instance);
  return { streamingOutput, historyFile, historyFileBytes, replication, durationMs: monotonicNow() - started };
}

export interface SecondGoodState {
  snapshot: TableSnapshot;
  time: string;
  tables: string[];
}

/**
 * The exact state before the second accident, on the new primary: the workload held for the
 * moment of the read (every table, the workload's included, at one server time), then resumed.
 */
export async function markSecondGoodState(fe: FullDrEnvironment, plan: FullDrPlan): Promise<SecondGoodState> {
  const server = fe.env.currentPrimary;
  const tables = [...plan.tables, WORKLOAD_TABLE];
  await fe.workload.pause();
  try {
    const snapshot = await snapshotTables(server, tables);
    const { time } = await server.one<{ time: string }>("SELECT now()::text AS time");
    return { snapshot, time, tables };
  } finally {
    fe.workload.resume();
  }
}

/** The configured disaster again, on the new primary, in one transaction. */
export async function causeSecondDisaster(fe: FullDrEnvironment, plan: FullDrPlan): Promise<{ time: string; snapshot: TableSnapshot }> {
  const server = fe.env.currentPrimary;
  await server.query("BEGIN");
  try {
    for (const [i, sql] of plan.disaster.entries()) {
      await server.query(sql).catch((error: Error) => {
        throw new Error(`config.disaster[${i}] failed on the new primary: ${error.message}`);
      });
    }
    await server.query("COMMIT");
  } catch (error) {
    await server.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
  const { time } = await server.one<{ time: string }>("SELECT now()::text AS time");
  return { time, snapshot: await snapshotTables(server, plan.tables) };
}
