// The drill on the user's own design (pgdrill.config.ts): seed, backup, normal work, good state,
// disaster, WAL archived, then one recovery per configured target, each compared table by table
// (row count and content checksum) with the state the primary had at the matching checkpoint.
import { execIn } from "../../containers/exec.ts";
import type { StartedDrillPostgres } from "../../containers/postgres/postgres-containers.ts";
import { segmentTimeline } from "../barman-output.ts";
import type { DrillSettings, TargetKindName } from "../config.ts";
import { resolveStep, type DrillConfig, type PrimaryContext, type WorkStep } from "../drill-config.ts";
import { monotonicNow } from "../metrics.ts";
import { targetForKind, type RecoveryTarget } from "../recovery-target.ts";
import { archiveWalThroughDisaster, serverNow, takeBackup } from "./disaster.ts";
import { DrillEnvironment, type DrillRun } from "./environment.ts";
import { recoverCopy, startPromoted } from "./recovery.ts";

const RESTORE_POINT = "before_disaster";

/** Per table: rows and a digest of every row, or null where the table does not exist. */
export type TableSnapshot = Record<string, { rows: number; checksum: string } | null>;

const quoteIdentifier = (name: string): string =>
  name
    .split(".")
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join(".");

export async function snapshotTables(db: StartedDrillPostgres, tables: string[]): Promise<TableSnapshot> {
  const snapshot: TableSnapshot = {};
  for (const table of tables) {
    const { present } = await db.one<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [quoteIdentifier(table)]);
    if (!present) {
      snapshot[table] = null;
      continue;
    }
    // Ordered by the row's text, so tables without a key digest the same way every time.
    const row = await db.one<{ rows: string; checksum: string }>(
      `SELECT count(*)::text AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS checksum FROM ${quoteIdentifier(table)} t`,
    );
    snapshot[table] = { rows: Number(row.rows), checksum: row.checksum };
  }
  return snapshot;
}

async function queryRows(db: StartedDrillPostgres, sql: string): Promise<unknown[][]> {
  const result = await db.client.query({ text: sql, rowMode: "array" });
  return JSON.parse(JSON.stringify(result.rows)) as unknown[][];
}

export function compareSnapshots(expected: TableSnapshot, actual: TableSnapshot): string[] {
  const problems: string[] = [];
  for (const [table, want] of Object.entries(expected)) {
    const got = actual[table];
    if (want === null && got !== null && got !== undefined) problems.push(`${table}: exists with ${got.rows} rows, expected it absent`);
    else if (want !== null && (got === null || got === undefined)) problems.push(`${table}: missing, expected ${want.rows} rows`);
    else if (want && got && want.rows !== got.rows) problems.push(`${table}: ${got.rows} rows, expected ${want.rows}`);
    else if (want && got && want.checksum !== got.checksum) problems.push(`${table}: same ${got.rows} rows but different content (checksum ${got.checksum}, expected ${want.checksum})`);
  }
  return problems;
}

function checkCounts(checkpoint: string, expected: Record<string, number | null> | undefined, snapshot: TableSnapshot): void {
  for (const [table, rows] of Object.entries(expected ?? {})) {
    const got = snapshot[table] === undefined ? "not in verify.tables" : snapshot[table] === null ? "absent" : snapshot[table]!.rows;
    const want = rows === null ? "absent" : rows;
    if (got !== want) throw new Error(`config.expect.${checkpoint}.${table}: expected ${want}, the primary shows ${got}`);
  }
}

/** Which checkpoint's state a target must give back. */
export function expectedCheckpoint(kind: TargetKindName): "baseline" | "goodState" | "afterDisaster" {
  switch (kind) {
    case "immediate":
      return "baseline";
    case "xid-inclusive":
    case "latest":
      return "afterDisaster";
    default:
      return "goodState";
  }
}

export interface TargetOutcome {
  kind: TargetKindName;
  target: RecoveryTarget;
  checkpoint: "baseline" | "goodState" | "afterDisaster";
  /** Empty when the recovered instance matched. */
  mismatches: string[];
  error?: string;
  phasesMs?: { barmanRecoverMs: number; instanceStartUntilPromotedMs: number; verificationMs: number };
  recovered?: TableSnapshot;
}

export interface ConfiguredDrillResult {
  name: string;
  backupId: string;
  snapshots: { baseline: TableSnapshot; goodState: TableSnapshot; afterDisaster: TableSnapshot };
  goodStateQueries: Record<string, unknown[][]>;
  disasterXid: number;
  targets: TargetOutcome[];
}

export async function runConfiguredDrill(options: {
  name: string;
  config: DrillConfig;
  configPath: string;
  settings: DrillSettings;
  run: DrillRun;
  progress: (line: string) => void;
}): Promise<ConfiguredDrillResult> {
  const { config, configPath, settings, progress } = options;
  const database = config.database ?? "app";
  const serverName = config.barman?.serverName ?? "pg-primary";
  const env = await DrillEnvironment.start({
    name: options.name,
    run: options.run,
    settings,
    serverName,
    database,
    progress,
    barmanServerSettings: config.barman?.settings,
    primarySettings: config.primary?.settings,
  });
  try {
    const primary = env.primary;
    const context: PrimaryContext = {
      sql: (text, params) => primary.query(text, params ?? []),
      exec: async (argv) =>
        (await execIn(primary.getId(), argv, { user: "postgres", env: { PGDATABASE: database, PGUSER: env.superuser.user }, where: "the primary" })).stdout,
    };
    const runSteps = async (steps: WorkStep[], what: string): Promise<void> => {
      for (const [i, step] of steps.entries()) {
        const resolved = await resolveStep(step, configPath);
        try {
          if (typeof resolved === "function") await resolved(context);
          else await primary.query(resolved);
        } catch (error) {
          throw new Error(`config.${what}[${i}] failed on the primary: ${(error as Error).message}`);
        }
      }
    };

    await runSteps(config.seed, "seed");
    const baseline = await snapshotTables(primary, config.verify.tables);
    checkCounts("baseline", config.expect?.baseline, baseline);
    const { backup } = await takeBackup(env);
    progress(`${config.name}: backup ${backup.backupId}`);

    await runSteps(config.normalWork, "normalWork");
    const { lsn } = await primary.one<{ lsn: string }>("SELECT pg_create_restore_point($1)::text AS lsn", [RESTORE_POINT]);
    const goodTime = await serverNow(primary);
    const goodState = await snapshotTables(primary, config.verify.tables);
    checkCounts("goodState", config.expect?.goodState, goodState);
    const goodStateQueries: Record<string, unknown[][]> = {};
    for (const q of config.verify.queries ?? []) goodStateQueries[q.name] = await queryRows(primary, q.sql);

    // The disaster: one transaction, its xid recorded.
    await primary.query("BEGIN");
    let disasterXid: number;
    try {
      disasterXid = Number((await primary.one<{ xid: string }>("SELECT txid_current()::text AS xid")).xid);
      for (const [i, step] of config.disaster.entries()) {
        try {
          await primary.query((await resolveStep(step, configPath)) as string);
        } catch (error) {
          throw new Error(`config.disaster[${i}] failed on the primary: ${(error as Error).message}`);
        }
      }
      await primary.query("COMMIT");
    } catch (error) {
      await primary.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
    const afterDisaster = await snapshotTables(primary, config.verify.tables);
    checkCounts("afterDisaster", config.expect?.afterDisaster, afterDisaster);
    const closedSegment = await archiveWalThroughDisaster(env);
    progress(`${config.name}: disaster (xid ${disasterXid}) archived through ${closedSegment}`);

    const snapshots = { baseline, goodState, afterDisaster };
    const targets: TargetOutcome[] = [];
    for (const kind of config.targets ?? ["time"]) {
      const target = targetForKind(kind, { time: goodTime, restorePoint: RESTORE_POINT, lsn, xid: disasterXid });
      const checkpoint = expectedCheckpoint(kind);
      const outcome: TargetOutcome = { kind, target, checkpoint, mismatches: [] };
      targets.push(outcome);
      const directory = `cfg-${kind}`;
      try {
        const copy = await recoverCopy(env, { backupId: backup.backupId, target, directory });
        const promoted = await startPromoted(env, { backupId: backup.backupId, target, directory });
        const instance = promoted.recovered.instance;
        const started = monotonicNow();
        outcome.recovered = await snapshotTables(instance, config.verify.tables);
        outcome.mismatches.push(...compareSnapshots(snapshots[checkpoint], outcome.recovered));
        if (checkpoint === "goodState") {
          for (const q of config.verify.queries ?? []) {
            const want = q.expected ?? goodStateQueries[q.name];
            const got = await queryRows(instance, q.sql).catch((error: Error) => [[`error: ${error.message}`]]);
            if (JSON.stringify(got) !== JSON.stringify(want)) outcome.mismatches.push(`query '${q.name}': ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
          }
        }
        const { segment, in_recovery } = await instance.one<{ segment: string; in_recovery: boolean }>(
          "SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment, pg_is_in_recovery() AS in_recovery",
        );
        if (in_recovery) outcome.mismatches.push("the instance is still in recovery");
        const timeline = segmentTimeline(segment);
        const primaryTimeline = segmentTimeline(closedSegment);
        if (kind === "latest" ? timeline !== primaryTimeline : timeline <= primaryTimeline) {
          outcome.mismatches.push(`timeline ${timeline} after a recovery from timeline ${primaryTimeline}`);
        }
        outcome.phasesMs = { barmanRecoverMs: copy.barmanRecoverMs, instanceStartUntilPromotedMs: promoted.startUntilPromotedMs, verificationMs: monotonicNow() - started };
      } catch (error) {
        outcome.error = (error as Error).message;
      } finally {
        await env.stopRecoveredInstance(directory).catch(() => undefined);
        await env.barman.removeRecoveryDirectory(directory).catch(() => undefined);
      }
      progress(`${config.name}: ${kind} ${outcome.error ? `FAILED: ${outcome.error.split("\n")[0]}` : outcome.mismatches.length ? `MISMATCH: ${outcome.mismatches.join("; ")}` : "verified"}`);
    }
    return { name: config.name, backupId: backup.backupId, snapshots, goodStateQueries, disasterXid, targets };
  } finally {
    if (!settings.keepResources) await env.stop();
  }
}
