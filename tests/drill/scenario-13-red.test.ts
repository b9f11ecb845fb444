// Scenario 13 must be able to fail where it claims the most: synchronous WAL streaming promises
// zero acknowledged commits lost. With the fault that breaks that promise (Barman loses the
// .partial segment receive-wal was writing when the primary's host was lost), the same engine
// phases the green drill runs must report the lost commits, and step 6's check must go red
// naming them. Nothing may be left behind.
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { removeStreamingPartial } from "../../fixtures/faults.ts";
import { failedChecks } from "../../src/asserts/check.ts";
import { dataLossChecks } from "../../src/asserts/full-dr-asserts.ts";
import { readSettings } from "../../src/drill/config.ts";
import { applyConfigToSettings, loadDrillConfig } from "../../src/drill/drill-config.ts";
import {
  detectOutage,
  type FullDrEnvironment,
  fenceApplication,
  loseThePrimaryHost,
  measureLoss,
  prepareFullDrTopology,
  recoverNewestState,
  resolveFullDrPlan,
  runWorkloadUntilShipped,
  startWorkload,
} from "../../src/engine/full-dr.ts";
import { backUp, seed } from "../../src/engine/phases.ts";

const run = inject("drillRun");
const say = (line: string): void => console.log(`[s13-red ${run.runId}] ${line}`);
const loaded = await loadDrillConfig({ path: "fixtures/scenario-13/synchronous.config.ts" });
const settings = applyConfigToSettings(readSettings(), loaded.config);

describe("Scenario 13 goes red: synchronous streaming whose last segment Barman lost", () => {
  let fe: FullDrEnvironment | undefined;

  beforeAll(async () => {
    await allure.epic("Disaster recovery");
    await allure.feature("Failure drills: the gate goes red");
  });

  afterAll(async () => {
    await fe?.workload.stop().catch(() => undefined);
    await fe?.env.stop();
  });

  test("acknowledged commits lost, named by step 6's check", async () => {
    const plan = await resolveFullDrPlan(loaded);
    fe = await prepareFullDrTopology(plan, { name: "s13-red", run, settings, progress: say });
    await seed(fe.env, plan);
    const { backup } = await backUp(fe.env);
    await startWorkload(fe, settings.budgetsMs.workloadCommitted);
    await runWorkloadUntilShipped(fe, plan);
    const loss = await loseThePrimaryHost(fe);
    await detectOutage(fe, loss, settings.budgetsMs.outageDetected);
    await fenceApplication(fe);
    const removed = await removeStreamingPartial(fe.env);
    say(`removed from Barman's streaming directory: ${removed.join(", ") || "nothing"}`);
    expect(removed, "the fault needs a .partial segment to remove").toHaveLength(1);
    const newPrimary = await recoverNewestState(fe, plan, backup.backupId);
    const dataLoss = await measureLoss(fe, newPrimary.instance);
    const failed = failedChecks(dataLossChecks(dataLoss, { walMode: "synchronous", rpoCommits: 0, rpoSeconds: 0 }));
    await allure.attachment("failed checks", failed.join("\n"), "text/plain");
    say(`red as expected:\n${failed.join("\n")}`);
    expect(dataLoss.lost.count).toBeGreaterThan(0);
    expect(failed).toEqual([
      `acknowledged commits lost with synchronous WAL streaming: ${dataLoss.lost.count.toLocaleString("en-US")}, expected 0 (Barman acknowledging every commit before the application)`,
    ]);
    await fe.workload.stop();
    await fe.env.stop();
    expect(await fe.env.leftoverRecoveredInstances(), "no instance left behind").toEqual([]);
    fe = undefined;
  });
});
