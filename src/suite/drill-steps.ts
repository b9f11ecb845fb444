// The twelve steps of a drill (src/suite/drill-suite.ts registers them as ordered tests), each a
// function of the suite's context: the engine (src/engine) acts, the assertions layer (src/asserts)
// says what is right, and each step reports what it did as Allure steps, parameters and attachments.
import * as allure from "allure-js-commons";
import { removeArchivedSegment } from "../../fixtures/faults.ts";
import { checkEqual, checkThat } from "../asserts/check.ts";
import {
  barmanCheckChecks,
  CHECKPOINT_NAMES,
  type Checkpoint,
  configurationPlaceChecks,
  countChecks,
  disasterChecks,
  expectedCheckpoint,
  promotionChecks,
  recoveredCopyChecks,
  recoveredStateChecks,
  snapshotChecks,
  stopLineCheck,
  targetAfterBackupChecks,
  walCoverageChecks,
} from "../asserts/drill-asserts.ts";
import { compareSegmentPosition, segmentTimeline } from "../barman/barman-output.ts";
import { describeTarget, type RecoveryTarget } from "../barman/recovery-target.ts";
import type { DrillSettings, TargetKindName } from "../drill/config.ts";
import { lessonsLearned, switchoverPlan } from "../drill/documents.ts";
import type { DrillConfig } from "../drill/drill-config.ts";
import { readRtoHistory } from "../drill/rto-history.ts";
import { incidentReportFor, type Judgement, judgeRecovery, recordJudgement } from "../engine/judge.ts";
import {
  archiveWalThroughDisaster,
  type BackedUp,
  backUp,
  causeDisaster,
  type Disaster,
  type DrillFacts,
  type DrillPlan,
  doNormalWork,
  type GoodState,
  markGoodState,
  readConfigurationPlace,
  seed,
  serverNow,
} from "../engine/phases.ts";
import {
  type PromotedInstance,
  probeWrites,
  type RecoveredCopy,
  type RecoveredState,
  readRecoveredState,
  recoverToTarget,
  removeRecovery,
  startUntilPromoted,
  targetOf,
  verifyBackupAndWal,
  walNeededThrough,
} from "../engine/recovery-phases.ts";
import { snapshotTables, type TableSnapshot } from "../engine/row-digest.ts";
import type { DrillEnvironment, DrillRun } from "../engine/topology.ts";
import { mebibytes, monotonicNow, seconds } from "../support/measure.ts";
import { verify } from "./verify.ts";

/** One recovery of the drill: a target kind, its copy, its instance, its state. */
export interface TargetRun {
  kind: TargetKindName;
  target: RecoveryTarget;
  directory: string;
  copy?: RecoveredCopy;
  promoted?: PromotedInstance;
  state?: RecoveredState;
}

/** What the steps learn and hand on, in one typed place. */
export interface DrillState {
  plan: DrillPlan;
  env: DrillEnvironment;
  versions: { postgres: string; barman: string };
  baseline: TableSnapshot;
  backedUp: BackedUp;
  goodState: GoodState;
  disaster: Disaster;
  closedSegment: string;
  runs: TargetRun[];
  verifiedAt: number;
  judgement: Judgement;
}

/** What every step reads: the run's settings and state, how it reports, and the drill's targets and facts. */
export interface DrillSuiteContext {
  settings: DrillSettings;
  run: DrillRun;
  say: (line: string) => void;
  /** What the steps learn and hand on. */
  state: Partial<DrillState>;
  /** A state member an earlier step produced, or an error naming it. */
  need: <K extends keyof DrillState>(key: K) => NonNullable<DrillState[K]>;
  /** A text attachment with the run's secrets masked. */
  attachText: (name: string, text: string) => Promise<void>;
  expectedCounts: NonNullable<DrillConfig["expect"]>;
  targets: TargetKindName[];
  checkpoints: () => Record<Checkpoint, TableSnapshot>;
  facts: () => DrillFacts;
}

/** Step 1: seed (…) and a fresh base backup. */
export async function seedAndBackUp(ctx: DrillSuiteContext): Promise<void> {
  const { need, state, say, attachText, expectedCounts } = ctx;
  const env = need("env");
  const plan = need("plan");
  await verify(configurationPlaceChecks("the primary", plan.primaryLayout, plan.platform.postgres, await readConfigurationPlace(env.primary)));
  const { baseline } = await allure.step("run config.seed on the primary", () => seed(env, plan));
  state.baseline = baseline;
  await verify(countChecks("the primary after the seed", expectedCounts.baseline, baseline, "config.expect.baseline"));
  const backedUp = await allure.step("barman backup", () => backUp(env, (l) => say(`barman backup: ${l}`)));
  const { backup } = backedUp;
  await attachText("barman backup output", backedUp.output);
  await allure.parameter("backup id", backup.backupId);
  await verify([
    checkEqual(
      `status of backup ${backup.backupId} in barman list-backup`,
      backedUp.listed.find((b) => b.backupId === backup.backupId)?.status ?? "not listed",
      "DONE",
    ),
  ]);
  state.backedUp = backedUp;
  say(`backup ${backup.backupId} done in ${seconds(backedUp.durationMs)}: ${mebibytes(backup.sizeBytes)} MiB, WAL ${backup.beginWal}..${backup.endWal}`);
}

/** Step 2: normal operations (…). */
export async function normalWork(ctx: DrillSuiteContext): Promise<void> {
  const { need, expectedCounts } = ctx;
  const { snapshot } = await allure.step("run config.normalWork on the primary", () => doNormalWork(need("env"), need("plan")));
  await verify(countChecks("the primary after the normal work", expectedCounts.goodState, snapshot, "config.expect.goodState"));
  await verify([
    checkThat(
      "tables the normal work changed",
      Object.keys(snapshot)
        .filter((t) => JSON.stringify(snapshot[t]) !== JSON.stringify(need("baseline")[t]))
        .join(", ") || "none",
      JSON.stringify(snapshot) !== JSON.stringify(need("baseline")),
      "at least one (else PITR cannot be told from the backup)",
    ),
  ]);
}

/** Step 3: restore point 'before_disaster' marks the good state. */
export async function markTheGoodState(ctx: DrillSuiteContext): Promise<void> {
  const { need, state, say, expectedCounts } = ctx;
  const goodState = await allure.step("pg_create_restore_point, now(), row digests and the verification queries", () =>
    markGoodState(need("env"), need("plan")),
  );
  state.goodState = goodState;
  await verify(countChecks("the primary at the good state", expectedCounts.goodState, goodState.snapshot, "config.expect.goodState"));
  await allure.parameter("good state time (server)", goodState.time);
  await allure.parameter("restore point LSN", goodState.restorePointLsn);
  say(`good state at ${goodState.time}, restore point ${goodState.restorePoint} at ${goodState.restorePointLsn}`);
}

/** Step 4: the disaster, committed in one transaction. */
export async function theDisaster(ctx: DrillSuiteContext): Promise<void> {
  const { need, state, attachText, expectedCounts } = ctx;
  const env = need("env");
  const plan = need("plan");
  const goodState = need("goodState");
  const disaster = await allure.step(`BEGIN; ${plan.disaster.map((s) => s.trim().split("\n")[0]).join("; ")}; COMMIT`, () => causeDisaster(env, plan));
  state.disaster = disaster;
  await verify([
    ...countChecks("the primary after the disaster", expectedCounts.afterDisaster, disaster.snapshot, "config.expect.afterDisaster"),
    ...disasterChecks({ goodState: goodState.snapshot, afterDisaster: disaster.snapshot }),
  ]);
  await allure.parameter("disaster xid", String(disaster.xid));
  await allure.parameter("disaster time (server)", disaster.time);
  await attachText("incident-report.txt", incidentReportFor({ plan, goodState, disaster, discoveredAt: await serverNow(env.primary) }));
}

/** Step 5: WAL switch, the disaster's WAL archived in Barman, barman check all OK. */
export async function archiveTheDisastersWal(ctx: DrillSuiteContext): Promise<void> {
  const { need, state, say, attachText, targets, facts } = ctx;
  const env = need("env");
  const disaster = need("disaster");
  const archived = await allure.step("pg_switch_wal(), wait until the closed segment is in Barman's archive, barman check", () =>
    archiveWalThroughDisaster(env),
  );
  state.closedSegment = archived.closedSegment;
  await attachText("barman check", archived.checkLines.map((l) => `${l.check}: ${l.ok ? "OK" : "FAILED"}${l.hint ? ` (${l.hint})` : ""}`).join("\n"));
  await verify([
    checkThat(
      "segment closed by pg_switch_wal()",
      archived.closedSegment,
      compareSegmentPosition(archived.closedSegment, disaster.segment) >= 0,
      `at or after the disaster's segment ${disaster.segment}`,
    ),
    ...barmanCheckChecks(archived.checkLines, need("plan")),
  ]);
  say(`WAL up to ${archived.closedSegment} archived; barman check: ${archived.checkLines.length} checks`);
  await injectTestFault(need("env"), () => walNeededThrough(need("env"), targets[0]!, facts()));
}

/** Step 6: backup verified, and every WAL segment the targets need present in Barman's archive. */
export async function verifyBackupAndArchive(ctx: DrillSuiteContext): Promise<void> {
  const { need, state, attachText, targets, facts } = ctx;
  const env = need("env");
  const backedUp = need("backedUp");
  // The furthest segment any configured target reads: one pass over the archive covers them all.
  const needed = await Promise.all(targets.map((kind) => walNeededThrough(env, kind, facts())));
  const walThrough = needed.reduce((a, b) => (compareSegmentPosition(a, b) >= 0 ? a : b));
  const verified = await allure.step(
    `barman verify-backup (where the backup has a manifest), and the WAL from ${backedUp.backup.beginWal} through ${walThrough}`,
    () => verifyBackupAndWal(env, { backupId: backedUp.backup.backupId, walThrough }),
  );
  await attachText("barman verify-backup", verified.verifyOutput ?? `not run: ${verified.notVerified}`);
  if (verified.notVerified) await allure.parameter("backup files verified", `no: ${verified.notVerified}`);
  await attachText("barman show-backup", JSON.stringify(verified.backup, null, 2));
  await verify([
    checkEqual(`status of backup ${verified.backup.backupId}`, verified.backup.status, "DONE"),
    ...walCoverageChecks(verified.wal),
    ...targets.flatMap((kind) => targetAfterBackupChecks(targetOf(kind, facts()), verified.backup.endTime)),
  ]);
  state.runs = targets.map((kind) => ({ kind, target: targetOf(kind, facts()), directory: `t-${kind}` }));
}

/** Step 7: barman recover to … (--target-action promote). */
export async function recoverEachTarget(ctx: DrillSuiteContext): Promise<void> {
  const { need, say, attachText } = ctx;
  const env = need("env");
  const backupId = need("backedUp").backup.backupId;
  // Copies one after the other (they share the disk); the instances start together in step 8.
  for (const targetRun of need("runs")) {
    await allure.parameter(`recovery target ${targetRun.kind}`, describeTarget(targetRun.target));
    const copy = await allure.step(`barman recover to ${describeTarget(targetRun.target)}`, () =>
      recoverToTarget(env, {
        backupId,
        target: targetRun.target,
        directory: targetRun.directory,
        jobs: need("plan").recoverJobs,
        onLine: (l) => say(`barman recover (${targetRun.kind}): ${l}`),
      }),
    );
    targetRun.copy = copy;
    await attachText(`barman recover output (${targetRun.kind})`, copy.output);
    await attachText(`postgresql.auto.conf (${targetRun.kind})`, copy.autoConf);
    await verify(recoveredCopyChecks(copy, targetRun.target));
  }
}

/** Step 8: the recovered instances start, reach their targets and promote. */
export async function startAndPromote(ctx: DrillSuiteContext): Promise<void> {
  const { need, say, attachText } = ctx;
  const env = need("env");
  const backupId = need("backedUp").backup.backupId;
  const runs = need("runs");
  const started = await Promise.allSettled(runs.map((r) => startUntilPromoted(env, { backupId, target: r.target, directory: r.directory })));
  for (const [i, outcome] of started.entries()) {
    const targetRun = runs[i]!;
    if (outcome.status === "rejected") throw outcome.reason;
    targetRun.promoted = outcome.value;
    await attachText(`recovery log lines (${targetRun.kind})`, outcome.value.log.recoveryLines.join("\n"));
    await verify(promotionChecks(outcome.value.log, targetRun.kind).map((c) => ({ ...c, what: `${targetRun.kind}: ${c.what}` })));
    const place = await readConfigurationPlace(outcome.value.instance);
    await verify(configurationPlaceChecks(`${targetRun.kind}: the recovered instance`, need("plan").primaryLayout, need("plan").platform.postgres, place));
    say(`${targetRun.kind}: promoted in ${seconds(outcome.value.durationMs)}${runs.length > 1 ? " (instances started together)" : ""}`);
  }
}

/** Step 9: each recovered instance holds exactly its target's state; production still shows the disaster. */
export async function checkRecoveredState(ctx: DrillSuiteContext): Promise<void> {
  const { need, state, facts, checkpoints } = ctx;
  const env = need("env");
  const plan = need("plan");
  const primaryTimeline = segmentTimeline(need("closedSegment"));
  for (const targetRun of need("runs")) {
    const instance = targetRun.promoted!.instance;
    const recovered = await allure.step(`read the recovered instance (${targetRun.kind}): row digests, queries, status`, () =>
      readRecoveredState(instance, plan),
    );
    targetRun.state = recovered;
    if (targetRun === need("runs")[0]) state.verifiedAt = monotonicNow();
    await allure.parameter(`recovered timeline ${targetRun.kind}`, String(recovered.timeline));
    await verify(
      [
        ...recoveredStateChecks({
          kind: targetRun.kind,
          plan,
          checkpoints: checkpoints(),
          goodStateQueries: need("goodState").queries,
          state: recovered,
          primaryTimeline,
        }),
        stopLineCheck(targetRun.kind, facts(), targetRun.promoted!.log.recoveryLines),
      ].map((c) => ({ ...c, what: `${targetRun.kind} (${CHECKPOINT_NAMES[expectedCheckpoint(targetRun.kind)]}): ${c.what}` })),
    );
  }
  const production = await allure.step("read production's tables", () => snapshotTables(env.primary, plan.tables));
  await verify(snapshotChecks("production (the primary)", need("disaster").snapshot, production, "the state after the disaster"));
}

/** Step 10: recovery metrics, RTO phase by phase and RPO, judged against the objectives. */
export async function judgeTheRecovery(ctx: DrillSuiteContext): Promise<void> {
  const { need, state, say, attachText, run, settings } = ctx;
  const env = need("env");
  const main = need("runs")[0]!;
  const judgement = judgeRecovery({
    runId: run.runId,
    plan: need("plan"),
    settings,
    versions: need("versions"),
    backup: need("backedUp").backup,
    target: main.target,
    goodState: need("goodState"),
    disaster: need("disaster"),
    recovered: main.state!.snapshot,
    phases: { barmanRecoverMs: main.copy!.durationMs, instanceStartUntilPromotedMs: main.promoted!.durationMs, verificationMs: main.state!.durationMs },
    verifiedAt: need("verifiedAt"),
    history: await readRtoHistory(),
  });
  state.judgement = judgement;
  await recordJudgement(judgement, env.mask.bind(env));
  const { metrics } = judgement;
  await attachText("recovery-metrics.txt", judgement.metricsText);
  await allure.attachment("recovery-metrics.json", env.mask(JSON.stringify(metrics, null, 2)), "application/json");
  await allure.attachment("rto-phases-per-run.svg", judgement.chartSvg, "image/svg+xml");
  for (const [phase, ms] of Object.entries(metrics.phasesMs)) await allure.parameter(`RTO ${phase}`, `${(ms / 1000).toFixed(3)} s`);
  await allure.parameter("RTO total from disaster", `${(metrics.totalFromDisasterMs / 1000).toFixed(3)} s`);
  await allure.parameter("RPO rows lost", String(metrics.rpo.rowsLostBeforeDisaster));
  await allure.parameter("RTO trend", judgement.trend.message);
  say(`\n${judgement.metricsText}\nRTO trend: ${judgement.trend.message}`);
  await verify([checkEqual("RTO/RPO objectives missed", metrics.violations, [])]);
  if (settings.trend.failOnRegression)
    await verify([
      checkEqual("RTO regression against recent runs (PGDRILL_FAIL_ON_RTO_REGRESSION)", judgement.trend.regression ? judgement.trend.message : "none", "none"),
    ]);
}

/** Step 11: switchover plan, the recovered instance accepts writes. */
export async function probeTheSwitchover(ctx: DrillSuiteContext): Promise<void> {
  const { need, attachText } = ctx;
  const main = need("runs")[0]!;
  const probe = await allure.step("write probe in a rolled-back transaction", () => probeWrites(main.promoted!.instance));
  await verify([
    checkEqual("transaction_read_only on the recovered instance", probe.readOnly, "off"),
    checkEqual("rows the write probe inserted (then rolled back)", probe.rowsWritten, 1),
  ]);
  await attachText(
    "switchover-plan.txt",
    switchoverPlan({
      recoveredHost: `pg-recovered-${main.directory}`,
      recoveredTimeline: main.state!.timeline,
      primaryHost: "pg-primary",
      metrics: need("judgement").metrics,
    }),
  );
}

/** Step 12: cleanup of the recovered instances and their data, lessons learned. */
export async function cleanUpAndLearn(ctx: DrillSuiteContext): Promise<void> {
  const { need, attachText } = ctx;
  const env = need("env");
  const runs = need("runs");
  await allure.step(`remove the recovered instances and their data (${runs.map((r) => r.kind).join(", ")})`, () =>
    Promise.all(runs.map((r) => removeRecovery(env, r.directory))),
  );
  for (const targetRun of runs) {
    const containerId = targetRun.promoted?.instance.getId();
    await verify([
      checkEqual(`recovered instance container (${targetRun.kind}) exists`, containerId ? await env.containerExists(containerId) : false, false),
      checkEqual(`recovery directory ${targetRun.directory} exists`, await env.recoveryDirectories.exists(targetRun.directory), false),
    ]);
  }
  await attachText("lessons-learned.txt", lessonsLearned({ metrics: need("judgement").metrics, walSegmentsArchived: need("closedSegment") }));
}

/**
 * A drill made red on purpose, for the proof that a red run's report shows what happened
 * (tests/drill/red-report.test.ts): PGDRILL_TEST_FAULT=wal-gap removes the first segment the
 * first target needs from Barman's archive once the WAL is archived, as an archive that lost a
 * file. The removal is a step of the report, so the report says what was done.
 */
async function injectTestFault(env: DrillEnvironment, segmentNeeded: () => Promise<string>): Promise<void> {
  const fault = process.env["PGDRILL_TEST_FAULT"];
  if (!fault) return;
  if (fault !== "wal-gap") throw new Error(`PGDRILL_TEST_FAULT='${fault}': the one fault a drill can be given is wal-gap`);
  const segment = await segmentNeeded();
  await allure.step(`test fault (PGDRILL_TEST_FAULT=wal-gap): WAL segment ${segment} removed from Barman's archive`, () => removeArchivedSegment(env, segment));
  console.log(`pgdrill test fault: WAL segment ${segment} removed from Barman's archive`);
}
