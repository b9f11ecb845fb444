// Scenario 12: point-in-time recovery after an accidental DELETE, the seed drill
// (../shared/seed/scenario-12-pitr.md) step by step against real PostgreSQL 15 and Barman 3.4
// containers. Each seed step is one test; a failed step skips the rest, naming itself.
import { writeFile, mkdir } from "node:fs/promises";
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, inject } from "vitest";
import { scenario12 } from "../../fixtures/scenario-12.ts";
import { describeFailedChecks, compareSegmentPosition, segmentTimeline, type BackupDetails } from "../../src/barman-output.ts";
import { readSettings } from "../../src/config.ts";
import { incidentReport, lessonsLearned, switchoverPlan } from "../../src/documents.ts";
import { DrillEnvironment, type StartedRecoveredInstance } from "../../src/drill/environment.ts";
import {
  archiveWalThroughDisaster,
  causeDisaster,
  markGoodState,
  normalOperations,
  normalOrderCount,
  seedBaseline,
  serverNow,
  tableCounts,
  takeBackup,
  type Disaster,
  type GoodState,
} from "../../src/drill/disaster.ts";
import { readRecoveredState, recoverCopy, startPromoted } from "../../src/drill/recovery.ts";
import { orderedScenario } from "../../src/drill/ordered-steps.ts";
import { computeRpo, monotonicNow, recoveryDuration, renderMetricsText, type RecoveryMetrics, type RecoveryPhases } from "../../src/metrics.ts";
import { parsePgTimestamp } from "../../src/pg-time.ts";
import { evaluateObjectives } from "../../src/objectives.ts";
import { addReportEnvironment } from "../../src/report-metadata.ts";
import { appendRtoHistory, readRtoHistory, renderRtoChart, rtoTrend } from "../../src/rto-history.ts";
import { readRecoveryLog } from "../../src/recovery-log.ts";
import type { RecoveryTarget } from "../../src/recovery-target.ts";
import { manualCleanupCommands } from "../../containers/docker-resources.ts";

const settings = readSettings();
const run = inject("drillRun");
const say = (line: string): void => console.log(`[drill ${run.runId}] ${line}`);
const RECOVERY_DIRECTORY = "pitr";
const { expected } = scenario12;

/** What the steps learn and hand on, in one typed place. */
interface DrillState {
  env: DrillEnvironment;
  versions: { postgres: string; barman: string };
  backup: BackupDetails;
  goodState: GoodState;
  disaster: Disaster;
  closedSegment: string;
  target: RecoveryTarget & { kind: "time" };
  recoverOutput: string;
  recovered: StartedRecoveredInstance;
  recoveredTimeline: number;
  phases: Partial<RecoveryPhases>;
  verifiedAt: number;
  metrics: RecoveryMetrics;
}
const state: Partial<DrillState> & { phases: Partial<RecoveryPhases> } = { phases: {} };

/** A value an earlier step must have produced; the ordered scenario skips steps after a failure. */
function need<K extends keyof DrillState>(key: K): NonNullable<DrillState[K]> {
  const value = state[key];
  if (value === undefined || value === null) throw new Error(`drill state '${key}' is missing: an earlier step did not produce it`);
  return value as NonNullable<DrillState[K]>;
}

async function attachText(name: string, text: string): Promise<void> {
  await allure.attachment(name, state.env ? state.env.mask(text) : text, "text/plain");
}

/** Evidence for a failed step: every container's log and Barman's transcript, secrets masked. */
async function attachEvidence(): Promise<void> {
  const env = state.env;
  if (!env) return;
  const sources: Array<[string, () => Promise<string>]> = [
    ["primary log", () => env.primary.serverLog()],
    ["barman container log", () => env.barman.containerLog()],
    ["barman.log", () => env.barman.barmanLog()],
    ["barman commands", async () => env.barman.transcript.map((r) => `$ ${r.command}  (exit ${r.exitCode}, ${r.durationMs.toFixed(0)} ms)\n${r.stdout}${r.stderr}`).join("\n")],
    ...[...env.recovered.values()].map((r): [string, () => Promise<string>] => [`recovered instance ${r.directory} log`, () => r.instance.serverLog()]),
  ];
  for (const [name, read] of sources) {
    await attachText(name, await read().catch((error: unknown) => `(could not read: ${(error as Error).message})`));
  }
}

const drill = orderedScenario({ stepTimeoutMs: 30 * 60_000, onFailure: attachEvidence });

describe("Scenario 12: point-in-time recovery after an accidental DELETE", () => {
  beforeAll(async () => {
    const env = await DrillEnvironment.start({ name: "pitr", run, settings, serverName: scenario12.serverName, database: scenario12.database, progress: say });
    state.env = env;
    state.versions = {
      postgres: (await env.primary.one<{ v: string }>("SELECT current_setting('server_version') AS v")).v,
      barman: await env.barman.version(),
    };
    say(`environment up: PostgreSQL ${state.versions.postgres}, ${state.versions.barman}`);
    await addReportEnvironment({ "postgresql.server": state.versions.postgres, "barman": state.versions.barman, "run.id": run.runId });
  });

  afterAll(async () => {
    if (!state.env) return;
    if (settings.keepResources) {
      say("PGDRILL_KEEP is set, containers kept. Remove them with:");
      for (const command of manualCleanupCommands(run.runId)) say(`  ${command}`);
      return;
    }
    await state.env.stop();
  });

  beforeEach(async () => {
    await allure.epic("Disaster recovery");
    await allure.feature("Point-in-time recovery with Barman");
    await allure.story("Scenario 12: accidental DELETE of all orders");
    await allure.parameter("run id", run.runId);
    if (state.versions) {
      await allure.parameter("PostgreSQL", state.versions.postgres);
      await allure.parameter("Barman", state.versions.barman);
    }
    // No secret goes into the report, not even "masked": Allure keeps a masked value in its result files.
  });

  drill.step("Step 1: baseline of 1,000 users and 60,004 orders, and a fresh base backup", async () => {
    const { primary, barman } = need("env");
    const counts = await allure.step("load schema and baseline fixtures", () => seedBaseline(primary));
    expect(counts, "baseline row counts on the primary").toEqual(expected.baseline);

    const { backup, output } = await allure.step("barman backup", () => takeBackup(need("env"), (l) => say(`barman backup: ${l}`)));
    const backupId = backup.backupId;
    await attachText("barman backup output", output);
    await allure.parameter("backup id", backupId);
    const listed = await allure.step("barman list-backup", () => barman.listBackups());
    expect(listed.map((b) => [b.backupId, b.status]), `backup ${backupId} in barman list-backup`).toContainEqual([backupId, "DONE"]);
    state.backup = backup;
    say(`backup ${backupId} done: ${(state.backup.sizeBytes / 1048576).toFixed(1)} MiB, WAL ${state.backup.beginWal}..${state.backup.endWal}`);
  });

  drill.step("Step 2: normal operations add 100 orders (60,104)", async () => {
    const { primary } = need("env");
    const { checkpoint1, checkpoint2 } = await allure.step("insert 100 normal orders", () => normalOperations(primary));
    await allure.parameter("checkpoint 1 (server)", checkpoint1);
    await allure.parameter("checkpoint 2 (server)", checkpoint2);
    expect(parsePgTimestamp(checkpoint2).getTime()).toBeGreaterThanOrEqual(parsePgTimestamp(checkpoint1).getTime());
    expect((await tableCounts(primary)).orders, "orders after the normal operations").toBe(expected.goodState.orders);
    expect(await normalOrderCount(primary), "NORMAL_ORDER_ rows on the primary").toBe(expected.normalOrders);
  });

  drill.step("Step 3: restore point 'before_disaster' marks the good state", async () => {
    const { primary } = need("env");
    const goodState = await allure.step("pg_create_restore_point, now(), counts and checksums", () => markGoodState(primary));
    expect(goodState.counts, "row counts at the good state").toEqual(expected.goodState);
    state.goodState = goodState;
    await allure.parameter("good state time (server)", goodState.time);
    await allure.parameter("restore point LSN", goodState.restorePointLsn);
    say(`good state at ${goodState.time}, restore point ${scenario12.restorePoint} at ${goodState.restorePointLsn}, orders checksum ${goodState.ordersChecksum}`);
  });

  drill.step("Step 4: the disaster, DELETE of every order, committed", async () => {
    const { primary } = need("env");
    const goodState = need("goodState");
    const disaster = await allure.step("BEGIN; DELETE FROM orders WHERE id > 0; COMMIT", () => causeDisaster(primary));
    const { xid, time, rowsDeleted } = disaster;
    state.disaster = disaster;
    expect(rowsDeleted, "rows the DELETE removed").toBe(goodState.counts.orders);
    expect((await tableCounts(primary)).orders, "orders left on the primary after the disaster").toBe(expected.afterDisaster.orders);
    await allure.parameter("disaster xid", String(xid));
    await allure.parameter("disaster time (server)", time);
    await attachText(
      "incident-report.txt",
      incidentReport({
        discoveredAt: await serverNow(primary),
        goodStateTime: goodState.time,
        disasterTime: time,
        disasterXid: xid,
        rowsLost: rowsDeleted,
        table: "orders",
        restorePoint: scenario12.restorePoint,
      }),
    );
  });

  drill.step("Step 5: WAL switch, the disaster's WAL archived in Barman, barman check all OK", async () => {
    const env = need("env");
    const disaster = need("disaster");
    const closedSegment = await allure.step("pg_switch_wal() and wait until the closed segment is in Barman's archive", () =>
      archiveWalThroughDisaster(env),
    );
    expect(compareSegmentPosition(closedSegment, disaster.segment), `closed segment ${closedSegment} holds the disaster's WAL (${disaster.segment})`).toBeGreaterThanOrEqual(0);
    state.closedSegment = closedSegment;
    const lines = await allure.step("barman check", () => env.barman.check());
    await attachText("barman check", lines.map((l) => `${l.check}: ${l.ok ? "OK" : "FAILED"}${l.hint ? ` (${l.hint})` : ""}`).join("\n"));
    expect(lines.map((l) => l.check), "both WAL paths and the backup method are checked").toEqual(
      expect.arrayContaining(["archive mode", "archive command", "continuous archiving", "receive wal running", "replication slot", "pg basebackup"]),
    );
    expect(describeFailedChecks(lines), "failed barman checks").toBe("");
    say(`WAL up to ${closedSegment} archived; barman check: ${lines.length} checks OK`);
  });

  drill.step("Step 6: backup verified and, with the WAL, covering the recovery target", async () => {
    const env = need("env");
    const backup = need("backup");
    const goodState = need("goodState");
    const listed = await env.barman.listBackups();
    expect(listed.find((b) => b.backupId === backup.backupId)?.status, `backup ${backup.backupId} status`).toBe("DONE");
    const verified = await allure.step("barman verify-backup (pg_verifybackup against the manifest)", () => env.barman.verifyBackup(backup.backupId));
    await attachText("barman verify-backup", verified);
    const details = await env.barman.showBackup(backup.backupId);
    await attachText("barman show-backup", JSON.stringify(details, null, 2));
    const target = parsePgTimestamp(goodState.time);
    expect(
      target.getTime(),
      `target time ${goodState.time} must be later than the backup's end ${details.endTime.toISOString()}`,
    ).toBeGreaterThan(details.endTime.getTime());
    expect(compareSegmentPosition(need("closedSegment"), details.endWal), "archived WAL reaches past the backup's end WAL").toBeGreaterThanOrEqual(0);
    state.target = { kind: "time", time: goodState.time };
  });

  drill.step("Step 7: barman recover to the good state (--target-time, --target-action promote)", async () => {
    const env = need("env");
    const backup = need("backup");
    const target = need("target");
    await allure.parameter("recovery target", `time ${target.time}`);
    const { recoverOutput: output, barmanRecoverMs } = await allure.step("barman recover", () =>
      recoverCopy(env, { backupId: backup.backupId, directory: RECOVERY_DIRECTORY, target, onLine: (l) => say(`barman recover: ${l}`) }),
    );
    state.phases.barmanRecoverMs = barmanRecoverMs;
    state.recoverOutput = output;
    await attachText("barman recover output", output);
    const autoConf = await env.barman.readRecoveredFile(RECOVERY_DIRECTORY, "postgresql.auto.conf");
    await attachText("postgresql.auto.conf", autoConf);
    expect(autoConf).toMatch(/^restore_command = '.+'$/m);
    expect(autoConf).toContain(`recovery_target_time = '${target.time}'`);
    expect(autoConf).toContain("recovery_target_action = 'promote'");
    expect(autoConf, "Barman disabled the primary's archive_command in the copy").toMatch(/^archive_command = false$/m);
    await expect(env.barman.recoveryDirectoryExists(`${RECOVERY_DIRECTORY}/recovery.signal`), "recovery.signal written by Barman").resolves.toBe(true);
  });

  drill.step("Step 8: the recovered instance starts, reaches the target and promotes", async () => {
    const env = need("env");
    const { recovered, startUntilPromotedMs, log: facts } = await allure.step("start recovered instance until promoted", () =>
      startPromoted(env, { backupId: need("backup").backupId, target: need("target"), directory: RECOVERY_DIRECTORY }),
    );
    state.phases.instanceStartUntilPromotedMs = startUntilPromotedMs;
    state.recovered = recovered;
    await attachText("recovered instance: recovery log lines", facts.recoveryLines.join("\n"));
    expect(facts.fatalLines, "FATAL/PANIC lines in the recovered instance's log").toEqual([]);
    expect(facts.pitrTarget, "recovery target PostgreSQL announced").toBeDefined();
    expect(facts.promoted, "recovered instance promoted").toBe(true);
    say(`recovered instance promoted in ${(state.phases.instanceStartUntilPromotedMs / 1000).toFixed(2)} s`);
  });

  drill.step("Step 9: recovered data equals the good state; production still shows the disaster", async () => {
    const env = need("env");
    const recovered = need("recovered").instance;
    const goodState = need("goodState");
    const disaster = need("disaster");
    const verified = await allure.step("verify the recovered instance", () => readRecoveredState(recovered));
    state.phases.verificationMs = verified.verificationMs;
    state.verifiedAt = monotonicNow();

    expect(verified.counts, "row counts on the recovered instance").toEqual(expected.goodState);
    expect(verified.normalOrders, "NORMAL_ORDER_ rows on the recovered instance").toBe(expected.normalOrders);
    expect(verified.ordersChecksum, "checksum of orders: recovered vs good state").toBe(goodState.ordersChecksum);
    expect(verified.usersChecksum, "checksum of users: recovered vs good state").toBe(goodState.usersChecksum);
    expect(verified.inRecovery, "recovered instance still in recovery").toBe(false);
    const primaryTimeline = segmentTimeline(need("closedSegment"));
    state.recoveredTimeline = verified.timeline;
    expect(state.recoveredTimeline, "recovered instance on a new timeline").toBeGreaterThan(primaryTimeline);

    const facts = readRecoveryLog(await recovered.serverLog());
    expect(facts.stoppedBeforeCommit?.xid, "recovery stopped right before the disaster's commit").toBe(disaster.xid);
    expect(facts.newTimeline).toBe(state.recoveredTimeline);
    expect((await tableCounts(env.primary)).orders, "production still in the disaster state").toBe(expected.afterDisaster.orders);
    await allure.parameter("recovered timeline", String(state.recoveredTimeline));
  });

  drill.step("Step 10: recovery metrics, RTO phase by phase and RPO", async () => {
    const env = need("env");
    const phases = state.phases as RecoveryPhases;
    const goodState = need("goodState");
    const disaster = need("disaster");
    const backup = need("backup");
    const recoveredOrders = (await tableCounts(need("recovered").instance)).orders;
    const measured = {
      schemaVersion: 1 as const,
      runId: run.runId,
      server: scenario12.serverName,
      backupId: backup.backupId,
      backupSizeBytes: backup.sizeBytes,
      target: { kind: "time", value: need("target").time },
      goodStateTime: goodState.time,
      disasterTime: disaster.time,
      versions: need("versions"),
      phasesMs: phases,
      recoveryMs: recoveryDuration(phases),
      totalFromDisasterMs: need("verifiedAt") - disaster.committedAt,
      rpo: computeRpo({
        goodStateRows: goodState.counts.orders,
        recoveredRows: recoveredOrders,
        targetTime: parsePgTimestamp(goodState.time),
        disasterTime: parsePgTimestamp(disaster.time),
      }),
      objectives: settings.objectives,
    };
    const violations = evaluateObjectives(measured, settings.objectives).map((v) => v.message);
    const metrics: RecoveryMetrics = { ...measured, violations, verdict: violations.length ? "fail" : "pass" };
    state.metrics = metrics;
    const text = renderMetricsText(metrics);
    await attachText("recovery-metrics.txt", text);
    await allure.attachment("recovery-metrics.json", env.mask(JSON.stringify(metrics, null, 2)), "application/json");
    await mkdir("reports", { recursive: true });
    await writeFile("reports/recovery-metrics.json", env.mask(JSON.stringify(metrics, null, 2)));
    for (const [phase, ms] of Object.entries(metrics.phasesMs)) await allure.parameter(`RTO ${phase}`, `${(ms / 1000).toFixed(3)} s`);
    await allure.parameter("RTO total from disaster", `${(metrics.totalFromDisasterMs / 1000).toFixed(3)} s`);
    await allure.parameter("RPO rows lost", String(metrics.rpo.rowsLostBeforeDisaster));
    say(`\n${text}`);

    // Trend: this run against the median of recent runs, and the chart of all of them.
    const history = await readRtoHistory();
    const trend = rtoTrend(metrics, history, settings.trend);
    const entry = {
      runId: run.runId,
      at: new Date().toISOString(),
      barmanRecoverMs: phases.barmanRecoverMs,
      instanceStartUntilPromotedMs: phases.instanceStartUntilPromotedMs,
      verificationMs: phases.verificationMs,
      recoveryMs: metrics.recoveryMs,
      totalFromDisasterMs: metrics.totalFromDisasterMs,
    };
    await appendRtoHistory(entry);
    await allure.parameter("RTO trend", trend.message);
    await allure.attachment("rto-phases-per-run.svg", renderRtoChart([...history, entry]), "image/svg+xml");
    say(`RTO trend: ${trend.message}`);

    expect(metrics.rpo.rowsLostBeforeDisaster, "RPO: rows lost before the disaster").toBe(0);
    expect(metrics.totalFromDisasterMs).toBeGreaterThan(metrics.recoveryMs);
    expect(violations, "RTO/RPO objectives missed").toEqual([]);
    if (settings.trend.failOnRegression) expect(trend.regression, trend.message).toBe(false);
  });

  drill.step("Step 11: switchover plan, the recovered instance accepts writes", async () => {
    const env = need("env");
    const recovered = need("recovered");
    const before = (await tableCounts(recovered.instance)).orders;
    await allure.step("write probe in a rolled-back transaction", async () => {
      await recovered.instance.query("BEGIN");
      try {
        await recovered.instance.query("INSERT INTO orders (user_id, product, amount) VALUES (1, 'SWITCHOVER_PROBE', 1.00)");
      } finally {
        await recovered.instance.query("ROLLBACK");
      }
    });
    expect((await tableCounts(recovered.instance)).orders, "write probe rolled back").toBe(before);
    await attachText(
      "switchover-plan.txt",
      switchoverPlan({ recoveredHost: recovered.alias, recoveredTimeline: need("recoveredTimeline"), primaryHost: "pg-primary", metrics: need("metrics") }),
    );
    expect(env.recovered.has(RECOVERY_DIRECTORY)).toBe(true);
  });

  drill.step("Step 12: cleanup of the recovered instance and its data, lessons learned", async () => {
    const env = need("env");
    const recovered = need("recovered");
    const containerId = recovered.instance.getId();
    await allure.step("stop and remove the recovered instance", () => env.stopRecoveredInstance(RECOVERY_DIRECTORY));
    await allure.step("remove the recovery directory", () => env.barman.removeRecoveryDirectory(RECOVERY_DIRECTORY));
    await expect(env.containerExists(containerId), "recovered instance container removed").resolves.toBe(false);
    await expect(env.barman.recoveryDirectoryExists(RECOVERY_DIRECTORY), "recovery directory removed").resolves.toBe(false);
    await attachText("lessons-learned.txt", lessonsLearned({ metrics: need("metrics"), walSegmentsArchived: need("closedSegment") }));
  });
});
