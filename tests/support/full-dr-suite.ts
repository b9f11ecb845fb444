// Scenario 13, the full disaster-recovery drill, as an ordered suite of twelve "Step N:" tests for
// one configuration with `fullDr` (one WAL mode): the engine (src/engine/full-dr.ts) acts, the
// assertions layer (src/asserts/full-dr-asserts.ts) says what is right, this file reports.

import { mkdir, writeFile } from "node:fs/promises";
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, type TestContext } from "vitest";
import { platformName } from "../../containers/platforms.ts";
import { checkEqual, checkThat } from "../../src/asserts/check.ts";
import { barmanCheckChecks, countChecks, disasterChecks, promotionChecks, recoveredCopyChecks, snapshotChecks } from "../../src/asserts/drill-asserts.ts";
import {
  barmanFollowsChecks,
  dataLossChecks,
  detectionChecks,
  fencedWindowChecks,
  hostLossChecks,
  newPrimaryChecks,
  switchoverChecks,
} from "../../src/asserts/full-dr-asserts.ts";
import { segmentTimeline } from "../../src/barman/barman-output.ts";
import { budgetOf } from "../../src/drill/config.ts";
import { FULL_DR_DEFAULTS, type LoadedDrillConfig } from "../../src/drill/drill-config.ts";
import { addReportEnvironment, platformEnvironment } from "../../src/drill/report-metadata.ts";
import {
  barmanFollowsNewPrimary,
  causeSecondDisaster,
  type Detection,
  detectOutage,
  type FullDrEnvironment,
  type FullDrPlan,
  fenceApplication,
  type HostLoss,
  loseThePrimaryHost,
  markSecondGoodState,
  measureLoss,
  type NewPrimary,
  prepareFullDrTopology,
  recoverNewestState,
  resolveFullDrPlan,
  runWorkloadUntilShipped,
  type SecondGoodState,
  type Switchover,
  startWorkload,
  switchApplication,
} from "../../src/engine/full-dr.ts";
import { type BackedUp, backUp, doNormalWork, readVersions, seed } from "../../src/engine/phases.ts";
import { readRecoveredState, recoverToTarget, startUntilPromoted } from "../../src/engine/recovery-phases.ts";
import { snapshotTables, type TableSnapshot } from "../../src/engine/row-digest.ts";
import { WORKLOAD_TABLE } from "../../src/engine/workload.ts";
import type { DataLoss } from "../../src/scenario-13/data-loss.ts";
import { executedRunbook, type FullDrMetrics, judgeFullDr, type RunbookEntry, renderFullDrText } from "../../src/scenario-13/full-dr-metrics.ts";
import { orderedScenario } from "../../src/suite/ordered-steps.ts";
import { labelStep, removeUnlessKept, stateReader, suiteContext } from "../../src/suite/suite-lifecycle.ts";
import { verify } from "../../src/suite/verify.ts";
import { monotonicNow, seconds } from "../../src/support/measure.ts";

interface FullDrState {
  plan: FullDrPlan;
  fe: FullDrEnvironment;
  versions: { postgres: string; barman: string };
  backedUp: BackedUp;
  /** The configured tables after the normal work: the workload does not touch them. */
  beforeLoss: TableSnapshot;
  lostTimeline: number;
  loss: HostLoss;
  detection: Detection;
  restoreStarted: number;
  newPrimary: NewPrimary;
  dataLoss: DataLoss & { attemptsConsidered: number };
  switchover: Switchover;
  newBackup: BackedUp;
  secondGoodState: SecondGoodState;
  metrics: FullDrMetrics;
}

/** Where the suite hands each mode's judged metrics for the side-by-side comparison. */
export type FullDrResults = Map<string, FullDrMetrics | { failedAt: string }>;

export function defineFullDrSuite(options: { loaded: LoadedDrillConfig; name: string; source: string; results: FullDrResults }): void {
  const { config, settings, run, say } = suiteContext(options.loaded, options.name);
  const state: Partial<FullDrState> = {};
  const runbook: RunbookEntry[] = [];
  const walMode = config.fullDr?.walMode ?? "archive";

  const need = stateReader(state);
  const mask = (text: string): string => state.fe?.env.mask(text) ?? text;
  const attachText = async (name: string, text: string): Promise<void> => {
    await allure.attachment(name, mask(text), "text/plain");
  };
  /** Runs an action, times it and writes it into the executed runbook. */
  const act = async <T>(action: string, detail: string, work: () => Promise<T>): Promise<T> => {
    const started = monotonicNow();
    const result = await allure.step(action, work);
    runbook.push({ action, detail, durationMs: monotonicNow() - started });
    return result;
  };

  const attachEvidence = async (): Promise<void> => {
    const fe = state.fe;
    if (!fe) return;
    const { env } = fe;
    const sources: Array<[string, () => Promise<string> | string]> = [
      ["PgBouncer log", () => fe.bouncer.containerLog()],
      ["barman.log", () => env.barman.barmanLog()],
      ["barman commands", () => env.barman.renderTranscript()],
      ["workload log (last 50 attempts)", () => JSON.stringify(fe.workload.attempts.slice(-50), null, 1)],
      ...[...env.recovered.entries()].map(([directory, instance]): [string, () => string] => [`instance ${directory} log`, () => instance.serverLog()]),
    ];
    if (!state.loss) sources.unshift(["primary log", () => env.primary.serverLog()]);
    for (const [name, read] of sources) {
      await attachText(name, await Promise.resolve(read()).catch((error: unknown) => `(could not read: ${(error as Error).message})`));
    }
  };

  const drill = orderedScenario({
    stepTimeoutMs: 30 * 60_000,
    onFailure: attachEvidence,
  });
  const step = (name: string, body: (context: TestContext) => Promise<void>): void =>
    drill.step(name, async (context) => {
      // A failed step (not a skipped one) is what the side-by-side comparison names for this mode.
      context.onTestFailed(() => {
        options.results.set(walMode, { failedAt: name });
      });
      await body(context);
    });

  describe(`${config.name} (${options.source})`, () => {
    beforeAll(async () => {
      const plan = await resolveFullDrPlan(options.loaded);
      state.plan = plan;
      state.fe = await prepareFullDrTopology(plan, { name: options.name, run, settings, progress: say });
      state.versions = await readVersions(state.fe.env);
      say(`environment up (WAL mode ${walMode}): PostgreSQL ${state.versions.postgres}, ${state.versions.barman}`);
      await addReportEnvironment({
        ...platformEnvironment(platformName(plan.platform), state.versions, state.fe.env.images),
        "run.id": run.runId,
      });
    });

    afterAll(async () => {
      const fe = state.fe;
      if (!fe) return;
      await fe.workload.stop().catch(() => undefined);
      await removeUnlessKept({ keep: settings.keepResources, runId: run.runId, say, remove: () => fe.env.stop() });
    });

    beforeEach(async () => {
      await labelStep({
        feature: "Full disaster recovery (Scenario 13)",
        story: config.name,
        parameters: { configuration: options.source, "WAL mode": walMode, "run id": run.runId },
        versions: state.versions,
      });
    });

    step("Step 1: seed, a fresh base backup, normal work; the application's address (PgBouncer) in front of the primary", async () => {
      const { env } = need("fe");
      const plan = need("plan");
      const { baseline } = await act("run config.seed on the primary", "the schema and the baseline data", () => seed(env, plan));
      await verify(countChecks("the primary after the seed", config.expect?.baseline, baseline, "config.expect.baseline"));
      const backedUp = await act("barman backup", `barman backup ${plan.serverName} --wait`, () => backUp(env, (l) => say(`barman backup: ${l}`)));
      state.backedUp = backedUp;
      state.lostTimeline = segmentTimeline(backedUp.backup.beginWal);
      await attachText("barman backup output", backedUp.output);
      await allure.parameter("backup id", backedUp.backup.backupId);
      const { snapshot } = await act("run config.normalWork on the primary", "work after the backup: the restore needs its WAL", () => doNormalWork(env, plan));
      await verify(countChecks("the primary after the normal work", config.expect?.goodState, snapshot, "config.expect.goodState"));
      state.beforeLoss = snapshot;
      await verify([
        checkEqual(
          `status of backup ${backedUp.backup.backupId} in barman list-backup`,
          backedUp.listed.find((b) => b.backupId === backedUp.backup.backupId)?.status ?? "not listed",
          "DONE",
        ),
        checkEqual("server PgBouncer sends the application to", need("fe").bouncer.currentServer(), "pg-primary"),
      ]);
    });

    step(
      `Step 2: a steady write workload through PgBouncer (${config.fullDr?.workload?.ratePerSecond ?? FULL_DR_DEFAULTS.ratePerSecond} commits/s), every acknowledged commit recorded`,
      async () => {
        const fe = need("fe");
        const started = await act(
          "start the workload",
          `${fe.workload.ratePerSecond} autocommit INSERTs per second into ${WORKLOAD_TABLE} through PgBouncer; every answer logged with its id and server time`,
          () => startWorkload(fe, settings.budgetsMs.workloadCommitted),
        );
        const shipped = await act(
          "let the workload run until its WAL has reached Barman",
          `${walMode === "archive" ? "pg_stat_archiver.last_archived_wal" : "pg_stat_replication.write_lsn of barman_receive_wal"} past the workload's first second; ${need("plan").fullDr.commitsBeforeDisaster} commits acknowledged`,
          () => runWorkloadUntilShipped(fe, need("plan")),
        );
        const acked = fe.workload.acknowledged();
        const achievedRate = (acked.length - 1) / Math.max(1e-3, (acked.at(-1)!.doneAtMs - acked[0]!.doneAtMs) / 1000);
        await allure.parameter("workload WAL in Barman", shipped.evidence);
        await allure.parameter("workload rate achieved", `${achievedRate.toFixed(0)} commits/s`);
        await verify([checkEqual("failed attempts before the disaster", fe.workload.attempts.filter((a) => a.outcome === "failed").length, 0)]);
        say(`workload running: ${started.acked} then ${shipped.acked} commits acknowledged (${achievedRate.toFixed(0)}/s); in Barman: ${shipped.evidence}`);
      },
    );

    step("Step 3: disaster: the primary's host is lost (SIGKILL under load, its data volume destroyed)", async () => {
      const fe = need("fe");
      const primaryId = fe.env.primary.getId();
      const loss = await act(
        "kill the primary's container (SIGKILL) and destroy its data volume",
        `docker kill --signal SIGKILL ${fe.env.prefix}-primary; docker rm; docker volume rm ${fe.env.primaryDataVolume}`,
        () => loseThePrimaryHost(fe),
      );
      state.loss = loss;
      await verify(
        hostLossChecks({
          containerExists: await fe.env.containerExists(primaryId),
          volume: loss.volumeDestroyed,
          volumeExists: loss.volumeDestroyed ? await fe.env.volumeExists(loss.volumeDestroyed) : true,
        }),
      );
      say(`primary's host lost after ${loss.attemptsBefore} workload attempts`);
    });

    step("Step 4: detection: the last acknowledged commit and the first failed one, from the application's log", async () => {
      const fe = need("fe");
      const detection = await act("wait for the application to fail", "the workload's own log: its first error after the loss", () =>
        detectOutage(fe, need("loss"), settings.budgetsMs.outageDetected),
      );
      state.detection = detection;
      await act(
        "fence the application's address",
        `DISABLE ${need("plan").database} on PgBouncer's admin console: no client reaches any server until the switchover`,
        () => fenceApplication(fe),
      );
      await allure.parameter("last acknowledged commit before the loss", `id ${detection.lastAckBeforeLoss.id} at ${detection.lastAckBeforeLoss.serverTime}`);
      await allure.parameter("first failed attempt", `id ${detection.firstFailure.id}: ${detection.firstFailure.error}`);
      await verify(
        detectionChecks({
          lastAckId: detection.lastAckBeforeLoss.id,
          firstFailureId: detection.firstFailure.id,
          firstFailureError: detection.firstFailure.error,
        }),
      );
      say(`outage detected: last ack id ${detection.lastAckBeforeLoss.id}, first failure id ${detection.firstFailure.id} (${detection.firstFailure.error})`);
    });

    step("Step 5: recovery: the newest state Barman has, restored and promoted on a new timeline", async () => {
      const fe = need("fe");
      const plan = need("plan");
      const backupId = need("backedUp").backup.backupId;
      state.restoreStarted = monotonicNow();
      const newPrimary = await act(
        "barman restore of the newest state, started as the new primary",
        `barman ${(await fe.env.barman.restoreVerb()) === "restore" ? "restore" : "recover"} ${plan.serverName} ${backupId} <dir> --get-wal (no target: every WAL file Barman has${walMode === "archive" ? "" : ", the .partial segment included"}); PostgreSQL started with archive_command = barman-wal-archive`,
        () => recoverNewestState(fe, plan, backupId),
      );
      state.newPrimary = newPrimary;
      await attachText("barman restore output", newPrimary.copy.output);
      await attachText("postgresql.auto.conf (new primary)", newPrimary.copy.autoConf);
      await attachText("recovery log lines (new primary)", newPrimary.promoted.log.recoveryLines.join("\n"));
      const { in_recovery } = await newPrimary.instance.one<{ in_recovery: boolean }>("SELECT pg_is_in_recovery() AS in_recovery");
      await verify([
        ...promotionChecks(newPrimary.promoted.log, "latest"),
        checkThat(
          "restore_command written by Barman",
          newPrimary.copy.autoConf.match(/^restore_command = .*$/m)?.[0] ?? "none",
          /-P/.test(newPrimary.copy.autoConf),
          "fetching partial WAL (-P)",
        ),
        ...newPrimaryChecks({ inRecovery: in_recovery, timeline: newPrimary.timeline, lostTimeline: need("lostTimeline") }),
      ]);
      say(
        `new primary promoted on timeline ${newPrimary.timeline} in ${seconds(newPrimary.promoted.durationMs)} (restore ${seconds(newPrimary.copy.durationMs)})`,
      );
    });

    step("Step 6: data loss measured: acknowledged commits missing from the new primary", async () => {
      const fe = need("fe");
      const plan = need("plan");
      const dataLoss = await act("compare the application's acknowledged commits with the new primary's rows", `SELECT id FROM ${WORKLOAD_TABLE}`, () =>
        measureLoss(fe, need("newPrimary").instance),
      );
      state.dataLoss = dataLoss;
      await allure.attachment("data-loss.json", JSON.stringify(dataLoss, null, 2), "application/json");
      await allure.parameter("acknowledged commits lost", String(dataLoss.lost.count));
      await allure.parameter("seconds of acknowledged work lost", dataLoss.rpoSeconds.toFixed(3));
      await allure.parameter("recovered but never acknowledged", String(dataLoss.unacknowledgedButRecovered.count));
      say(
        `data loss: ${dataLoss.lost.count} of ${dataLoss.acknowledged} acknowledged commits (${dataLoss.rpoSeconds.toFixed(3)} s); ${dataLoss.unacknowledgedButRecovered.count} recovered but never acknowledged`,
      );
      await verify(dataLossChecks(dataLoss, { walMode, rpoCommits: plan.fullDr.objectives.rpoCommits, rpoSeconds: plan.fullDr.objectives.rpoSeconds }));
      // The configured tables changed before the workload's WAL reached Barman (step 2): every mode must bring them back whole.
      const tables = await snapshotTables(need("newPrimary").instance, plan.tables);
      await verify(snapshotChecks("the new primary", need("beforeLoss"), tables, "the lost primary after the normal work"));
    });

    step("Step 7: switchover done: the application's address moves to the new primary, the workload commits again", async () => {
      const fe = need("fe");
      const newPrimary = need("newPrimary");
      const switchover = await act(
        "point PgBouncer at the new primary",
        `[databases] ${need("plan").database} = host=${newPrimary.host}; RELOAD on PgBouncer's admin console; the application keeps its address`,
        () => switchApplication(fe, newPrimary, settings.budgetsMs.workloadCommitted),
      );
      state.switchover = switchover;
      const firstFailureId = need("detection").firstFailure.id;
      await verify(
        fencedWindowChecks(
          fe.workload.attempts.filter((a) => a.outcome === "acked" && a.id > firstFailureId && a.sentAtMs < switchover.startedAt).map((a) => a.id),
        ),
      );
      await verify(
        switchoverChecks({
          pointsAt: switchover.pointsAt,
          newPrimaryHost: newPrimary.host,
          firstAckId: switchover.firstAckOnNewPrimary.id,
          lastAckBeforeLossId: need("detection").lastAckBeforeLoss.id,
        }),
      );
      const held = await newPrimary.instance.one<{ present: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${WORKLOAD_TABLE} WHERE id = $1) AS present`, [
        switchover.firstAckOnNewPrimary.id,
      ]);
      await verify([checkEqual(`commit ${switchover.firstAckOnNewPrimary.id} (the first after the switch) on the new primary`, held.present, true)]);
      say(`application switched: first commit id ${switchover.firstAckOnNewPrimary.id} acknowledged by the new primary`);
    });

    step("Step 8: Barman follows the new primary: connection, slot, history file, a new base backup, barman check all OK", async () => {
      const fe = need("fe");
      const plan = need("plan");
      const newPrimary = need("newPrimary");
      const follows = await act(
        "re-point Barman at the new primary",
        [
          `conninfo / streaming_conninfo host=${newPrimary.host} in /etc/barman.d/${plan.serverName}.conf, .pgpass for it`,
          ...(walMode === "synchronous" ? [`ALTER SYSTEM SET synchronous_standby_names = 'barman_receive_wal' on the new primary`] : []),
          ...(walMode === "archive" ? [] : ["barman receive-wal --create-slot; barman receive-wal --reset; barman cron"]),
          "wait for the new timeline's history file in Barman's archive",
        ].join("\n"),
        () => barmanFollowsNewPrimary(fe, plan, newPrimary),
      );
      if (follows.streamingOutput) await attachText("barman receive-wal (new primary)", follows.streamingOutput);
      const newBackup = await act("barman backup of the new primary", `barman backup ${plan.serverName} --wait`, () =>
        backUp(fe.env, (l) => say(`barman backup (new primary): ${l}`)),
      );
      state.newBackup = newBackup;
      await attachText("barman backup output (new primary)", newBackup.output);
      const checkLines = await act("barman check", `barman check ${plan.serverName}`, () => fe.env.barman.check());
      await attachText("barman check (new primary)", checkLines.map((l) => `${l.check}: ${l.ok ? "OK" : "FAILED"}${l.hint ? ` (${l.hint})` : ""}`).join("\n"));
      await allure.parameter("new backup id", newBackup.backup.backupId);
      await verify([
        checkThat(
          `history file ${follows.historyFile} in Barman's archive (bytes)`,
          follows.historyFileBytes ?? "absent",
          (follows.historyFileBytes ?? 0) > 0,
          "archived by the new primary, not empty",
        ),
        ...barmanFollowsChecks({
          backupTimeline: segmentTimeline(newBackup.backup.beginWal),
          newTimeline: newPrimary.timeline,
          backupStatus: newBackup.backup.status,
          walMode,
          syncState: follows.replication?.syncState,
        }),
        ...barmanCheckChecks(checkLines, plan),
      ]);
      say(`Barman follows the new primary: backup ${newBackup.backup.backupId} on timeline ${newPrimary.timeline}`);
    });

    step("Step 9: the loop closed: a second accidental DELETE on the new primary, PITR by time on the new timeline exact", async () => {
      const fe = need("fe");
      const plan = need("plan");
      const { env } = fe;
      const good = await act("read the exact state before the second accident", "workload held for the read; row digests of every table; now()", () =>
        markSecondGoodState(fe, plan),
      );
      state.secondGoodState = good;
      const second = await act(
        `the accident again on the new primary: ${plan.disaster.map((s) => s.trim().split("\n")[0]).join("; ")}`,
        "one transaction",
        () => causeSecondDisaster(fe, plan),
      );
      await verify(disasterChecks({ goodState: Object.fromEntries(plan.tables.map((t) => [t, good.snapshot[t] ?? null])), afterDisaster: second.snapshot }));
      await act("switch WAL, wait until the segment is in Barman's archive", "pg_switch_wal()", async () => {
        const { closedSegment } = await env.switchWal();
        await env.barman.waitForArchivedSegment(closedSegment, budgetOf(settings, "walArchived"));
      });
      const backupId = need("newBackup").backup.backupId;
      const target = { kind: "time" as const, time: good.time };
      const copy = await act(`barman restore to ${good.time} from ${backupId}`, `--target-time '${good.time}' --target-action promote`, () =>
        recoverToTarget(env, { backupId, target, directory: "second-pitr", jobs: plan.recoverJobs }),
      );
      const promoted = await act("start the recovered copy until promoted", "a throwaway instance: archive_mode = off", () =>
        startUntilPromoted(env, { backupId, target, directory: "second-pitr" }),
      );
      const recovered = await readRecoveredState(promoted.instance, { tables: good.tables, queries: [] });
      await verify([
        ...recoveredCopyChecks(copy, target),
        ...promotionChecks(promoted.log, "time"),
        ...snapshotChecks("the copy recovered on the new timeline", good.snapshot, recovered.snapshot, "the new primary before the second accident"),
        checkThat(
          "timeline of the copy",
          recovered.timeline,
          recovered.timeline > need("newPrimary").timeline,
          `after the new primary's ${need("newPrimary").timeline}`,
        ),
      ]);
      await env.stopRecoveredInstance("second-pitr");
      await env.recoveryDirectories.remove("second-pitr");
      say(`second PITR exact: ${good.tables.map((t) => `${t} ${good.snapshot[t]?.rows ?? "absent"}`).join(", ")}`);
    });

    step("Step 10: RPO in commits and seconds, RTO as the application saw it, judged against the objectives", async () => {
      const plan = need("plan");
      const detection = need("detection");
      const newPrimary = need("newPrimary");
      const switchover = need("switchover");
      const metrics = judgeFullDr({
        runId: run.runId,
        drill: config.name,
        walMode,
        platform: platformName(plan.platform),
        versions: need("versions"),
        ratePerSecond: plan.fullDr.ratePerSecond,
        attemptsBeforeRecovery: need("dataLoss").attemptsConsidered,
        loss: need("dataLoss"),
        marks: {
          lastAckBeforeLoss: detection.lastAckBeforeLoss.doneAtMs,
          firstFailure: detection.firstFailure.doneAtMs,
          restoreStarted: need("restoreStarted"),
          restoreFinished: need("restoreStarted") + newPrimary.copy.durationMs,
          promoted: need("restoreStarted") + newPrimary.copy.durationMs + newPrimary.promoted.durationMs,
          switchStarted: switchover.startedAt,
          switchFinished: switchover.switchedAt,
          firstAckOnNewPrimary: switchover.firstAckOnNewPrimary.doneAtMs,
        },
        timelines: { lost: need("lostTimeline"), new: newPrimary.timeline },
        objectives: plan.fullDr.objectives,
      });
      state.metrics = metrics;
      options.results.set(walMode, metrics);
      await mkdir("reports", { recursive: true });
      await writeFile(`reports/scenario-13-${walMode}.json`, `${JSON.stringify(metrics, null, 2)}\n`);
      const text = renderFullDrText(metrics);
      await attachText("full-dr-metrics.txt", text);
      await allure.attachment("full-dr-metrics.json", JSON.stringify(metrics, null, 2), "application/json");
      await allure.parameter("RPO commits lost", String(metrics.rpo.commitsLost));
      await allure.parameter("RTO application", seconds(metrics.rto.applicationMs));
      say(`\n${text}`);
      await verify([checkEqual("Scenario 13 objectives missed", metrics.violations, [])]);
    });

    step("Step 11: the runbook as executed; the application stayed up on the new primary", async () => {
      const fe = need("fe");
      const since = need("switchover").firstAckOnNewPrimary.id;
      // Strictly after the first acknowledged commit: that one proves the switch, these that the application kept writing.
      const after = fe.workload.attempts.filter((a) => a.id > since);
      const failed = after.filter((a) => a.outcome === "failed");
      const slowest = Math.max(0, ...after.filter((a) => a.outcome === "acked").map((a) => a.doneAtMs - a.sentAtMs));
      await allure.parameter("slowest commit on the new primary", seconds(slowest));
      await attachText("runbook-executed.txt", executedRunbook({ drill: config.name, walMode, entries: runbook, metrics: need("metrics") }));
      await verify([
        checkThat(
          "commits acknowledged by the new primary after its first one",
          after.filter((a) => a.outcome === "acked").length,
          after.some((a) => a.outcome === "acked"),
          "more than none",
        ),
        checkEqual(
          "failed attempts on the new primary since the switch (Barman re-pointed, a new backup and a PITR meanwhile)",
          failed.map((a) => `id ${a.id}: ${a.error}`),
          [],
        ),
      ]);
      say(`runbook: ${runbook.length} actions; slowest commit on the new primary ${seconds(slowest)}`);
    });

    step("Step 12: cleanup, nothing left behind", async (context) => {
      const fe = need("fe");
      if (settings.keepResources) context.skip("PGDRILL_KEEP is set: the containers are kept (the commands to remove them are printed at the end)");
      await act("stop the workload", "the application closes its connection", () => fe.workload.stop());
      const ids = [fe.bouncer.getId(), fe.env.barmanServer.getId(), ...[...fe.env.recovered.values()].map((i) => i.getId())];
      await act("remove every container, the network and the volumes", "docker rm -f; docker network rm; docker volume rm", () => fe.env.stop());
      const left = (await Promise.all(ids.map(async (id) => ((await fe.env.containerExists(id)) ? id : undefined)))).filter(Boolean);
      await verify([
        checkEqual("containers of this drill left", left, []),
        checkEqual(`volume ${fe.env.recoveryVolume} exists`, await fe.env.volumeExists(fe.env.recoveryVolume), false),
      ]);
      state.fe = undefined;
    });
  });
}
