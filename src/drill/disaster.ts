// The Scenario 12 story up to the moment recovery starts: baseline, base backup, normal work,
// restore point, the accidental DELETE, and its WAL safely in Barman's archive. Each function is
// one seed step: it acts and returns what it measured; the tests assert on the results.
import { scenario12 } from "../../fixtures/scenario-12.ts";
import type { StartedDrillPostgres } from "../../containers/postgres/postgres-containers.ts";
import type { BackupDetails } from "../barman-output.ts";
import { monotonicNow } from "../metrics.ts";
import type { DrillEnvironment } from "./environment.ts";

export interface TableCounts {
  users: number;
  orders: number;
}

export async function tableCounts(db: StartedDrillPostgres): Promise<TableCounts> {
  return db.one<TableCounts>("SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM orders)::int AS orders");
}

export async function normalOrderCount(db: StartedDrillPostgres): Promise<number> {
  const { n } = await db.one<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE product LIKE $1", [`${scenario12.expected.normalOrderPrefix}%`]);
  return n;
}

/** Counts can hide wrong rows: a digest of every row, in key order. */
export async function tableChecksum(db: StartedDrillPostgres, table: "orders" | "users"): Promise<string> {
  const { checksum } = await db.one<{ checksum: string }>(
    `SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) AS checksum FROM ${table} t`,
  );
  return checksum;
}

export async function serverNow(db: StartedDrillPostgres): Promise<string> {
  return (await db.one<{ now: string }>("SELECT now()::text AS now")).now;
}

export async function seedBaseline(primary: StartedDrillPostgres): Promise<TableCounts> {
  await primary.query(scenario12.sql.schema);
  await primary.query(scenario12.sql.baseline);
  return tableCounts(primary);
}

export async function takeBackup(env: DrillEnvironment, onLine?: (line: string) => void): Promise<{ backup: BackupDetails; output: string }> {
  const { backupId, output } = await env.barman.backup({ budgetMs: env.settings.budgetsMs.backup, onLine });
  return { backup: await env.barman.showBackup(backupId), output };
}

export async function normalOperations(primary: StartedDrillPostgres): Promise<{ checkpoint1: string; checkpoint2: string }> {
  const checkpoint1 = await serverNow(primary);
  await primary.query(scenario12.sql.normalOrders);
  return { checkpoint1, checkpoint2: await serverNow(primary) };
}

export interface GoodState {
  /** Server time after the restore point: the --target-time of the seed. */
  time: string;
  restorePoint: string;
  /** LSN pg_create_restore_point returned. */
  restorePointLsn: string;
  counts: TableCounts;
  ordersChecksum: string;
  usersChecksum: string;
}

export async function markGoodState(primary: StartedDrillPostgres): Promise<GoodState> {
  const { lsn } = await primary.one<{ lsn: string }>("SELECT pg_create_restore_point($1)::text AS lsn", [scenario12.restorePoint]);
  return {
    time: await serverNow(primary),
    restorePoint: scenario12.restorePoint,
    restorePointLsn: lsn,
    counts: await tableCounts(primary),
    ordersChecksum: await tableChecksum(primary, "orders"),
    usersChecksum: await tableChecksum(primary, "users"),
  };
}

export interface Disaster {
  xid: number;
  /** Server time right after the commit. */
  time: string;
  /** WAL segment holding the commit. */
  segment: string;
  rowsDeleted: number;
  /** Monotonic clock at the commit: the start of the RTO. */
  committedAt: number;
}

/** The accident, in one transaction whose id is recorded (the xid target, and the log check). */
export async function causeDisaster(primary: StartedDrillPostgres): Promise<Disaster> {
  await primary.query("BEGIN");
  let xid: number;
  let rowsDeleted: number;
  try {
    xid = Number((await primary.one<{ xid: string }>("SELECT txid_current()::text AS xid")).xid);
    rowsDeleted = (await primary.client.query(scenario12.sql.disaster)).rowCount ?? 0;
    await primary.query("COMMIT");
  } catch (error) {
    await primary.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
  const committedAt = monotonicNow();
  const { time, segment } = await primary.one<{ time: string; segment: string }>(
    "SELECT now()::text AS time, pg_walfile_name(pg_current_wal_lsn()) AS segment",
  );
  return { xid, time, segment, rowsDeleted, committedAt };
}

/** Seed step 5: switch WAL and wait until the closed segment (holding the disaster) is archived. */
export async function archiveWalThroughDisaster(env: DrillEnvironment): Promise<string> {
  const { closedSegment } = await env.switchWal();
  await env.barman.waitForArchivedSegment(closedSegment, env.settings.budgetsMs.walArchived);
  return closedSegment;
}

export interface PreparedDisaster {
  /** Checksum of orders as loaded, before the backup: what --target-immediate must give back. */
  baselineOrdersChecksum: string;
  backup: BackupDetails;
  goodState: GoodState;
  disaster: Disaster;
  closedSegment: string;
}

export class ScenarioStateError extends Error {}

/** Steps 1-5 in one go, each checkpoint checked, for drills that start at the recovery. */
export async function prepareDisaster(env: DrillEnvironment, progress: (line: string) => void): Promise<PreparedDisaster> {
  const { expected } = scenario12;
  const check = (what: string, actual: unknown, wanted: unknown): void => {
    if (JSON.stringify(actual) !== JSON.stringify(wanted)) {
      throw new ScenarioStateError(`${what}: expected ${JSON.stringify(wanted)}, the primary reports ${JSON.stringify(actual)}`);
    }
  };
  check("baseline", await seedBaseline(env.primary), expected.baseline);
  const baselineOrdersChecksum = await tableChecksum(env.primary, "orders");
  const { backup } = await takeBackup(env);
  progress(`backup ${backup.backupId} taken`);
  await normalOperations(env.primary);
  const goodState = await markGoodState(env.primary);
  check("good state", goodState.counts, expected.goodState);
  const disaster = await causeDisaster(env.primary);
  check("orders after the disaster", (await tableCounts(env.primary)).orders, expected.afterDisaster.orders);
  const closedSegment = await archiveWalThroughDisaster(env);
  progress(`disaster (xid ${disaster.xid}) archived through ${closedSegment}`);
  return { baselineOrdersChecksum, backup, goodState, disaster, closedSegment };
}
