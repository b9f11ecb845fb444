// A drill configuration as an ordered suite of twelve "Step N:" tests, the seed's Scenario 12 shape
// for any configuration: the engine (src/engine) acts, the assertions layer (src/asserts) says what
// is right, and this file reports: Allure steps, parameters and the evidence attachments.
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe } from "vitest";
import { type Platform, platformName } from "../../containers/platforms.ts";
import type { Checkpoint } from "../asserts/drill-asserts.ts";
import type { TargetKindName } from "../drill/config.ts";
import type { LoadedDrillConfig } from "../drill/drill-config.ts";
import { addReportEnvironment, platformEnvironment } from "../drill/report-metadata.ts";
import { type DrillFacts, prepareTopology, readVersions, resolvePlan } from "../engine/phases.ts";
import type { TableSnapshot } from "../engine/row-digest.ts";
import {
  archiveTheDisastersWal,
  checkRecoveredState,
  cleanUpAndLearn,
  type DrillState,
  type DrillSuiteContext,
  judgeTheRecovery,
  markTheGoodState,
  normalWork,
  probeTheSwitchover,
  recoverEachTarget,
  seedAndBackUp,
  startAndPromote,
  theDisaster,
  verifyBackupAndArchive,
} from "./drill-steps.ts";
import { orderedScenario } from "./ordered-steps.ts";
import { labelStep, removeUnlessKept, stateReader, suiteContext } from "./suite-lifecycle.ts";

const count = (snapshot: Record<string, number | null> | undefined): string =>
  Object.entries(snapshot ?? {})
    .map(([table, rows]) => `${table} ${rows === null ? "absent" : rows.toLocaleString("en-US")}`)
    .join(", ");

/**
 * A drill configuration for the suites that recover every target at once (recovery-targets,
 * platforms): what they prove is that each target and each version pair recovers exactly; speed is
 * the benchmark's business (npm run bench). Seven instances start together on two cores, so the
 * fixture's RTO objectives (instance start 10 s) would turn a step red for load alone (seen: 10.07 s
 * on a busy run). The objectives' judgement is proven in objectives-gate.test.ts and by the drill.
 */
export function everyTargetAtOnce(loaded: LoadedDrillConfig): LoadedDrillConfig {
  const objectives = { ...loaded.config.objectives, rtoBarmanRecoverS: 120, rtoInstanceStartS: 120, rtoVerificationS: 120, rtoTotalS: 600 };
  return { ...loaded, config: { ...loaded.config, objectives } };
}

/**
 * Defines the ordered suite of one configuration. `name` is short and unique in the run (container
 * names); `targets` overrides the configuration's (PGDRILL_TARGET_KINDS).
 */
export function defineDrillSuite(options: { loaded: LoadedDrillConfig; name: string; source: string; targets?: TargetKindName[]; platform?: Platform }): void {
  const { config, settings, run, say } = suiteContext(options.loaded, options.name);
  const state: Partial<DrillState> = {};

  const need = stateReader(state);
  const attachText = async (name: string, text: string): Promise<void> => {
    await allure.attachment(name, state.env ? state.env.mask(text) : text, "text/plain");
  };

  /** Evidence for a failed step: every container's log and Barman's transcript, secrets masked. */
  const attachEvidence = async (): Promise<void> => {
    const env = state.env;
    if (!env) return;
    const sources: Array<[string, () => Promise<string> | string]> = [
      ["primary log", () => env.primary.serverLog()],
      ["barman container log", () => env.barmanServer.containerLog()],
      ["barman.log", () => env.barman.barmanLog()],
      ["barman commands", () => env.barman.renderTranscript()],
      ...[...env.recovered.entries()].map(([directory, instance]): [string, () => string] => [
        `recovered instance ${directory} log`,
        () => instance.serverLog(),
      ]),
    ];
    for (const [name, read] of sources) {
      await attachText(name, await Promise.resolve(read()).catch((error: unknown) => `(could not read: ${(error as Error).message})`));
    }
  };

  const drill = orderedScenario({ stepTimeoutMs: 30 * 60_000, onFailure: attachEvidence });
  const targets = options.targets ?? config.targets ?? ["time"];
  const checkpoints = (): Record<Checkpoint, TableSnapshot> => ({
    baseline: need("baseline"),
    goodState: need("goodState").snapshot,
    afterDisaster: need("disaster").snapshot,
  });
  const facts = (): DrillFacts => ({
    baseline: need("baseline"),
    backup: need("backedUp").backup,
    goodState: need("goodState"),
    disaster: need("disaster"),
    closedSegment: need("closedSegment"),
  });
  const expectedCounts = config.expect ?? {};

  const ctx: DrillSuiteContext = { settings, run, say, state, need, attachText, expectedCounts, targets, checkpoints, facts };

  describe(`${config.name} (${options.source})`, () => {
    beforeAll(async () => {
      const plan = await resolvePlan(options.loaded, { targets, platform: options.platform });
      state.plan = plan;
      state.env = await prepareTopology(plan, { name: options.name, run, settings, progress: say });
      state.versions = await readVersions(state.env);
      say(`environment up: PostgreSQL ${state.versions.postgres}, ${state.versions.barman}`);
      await addReportEnvironment({
        ...platformEnvironment(platformName(plan.platform), state.versions, state.env.images),
        "run.id": run.runId,
      });
    });

    afterAll(async () => {
      const env = state.env;
      if (!env) return;
      await removeUnlessKept({ keep: settings.keepResources, runId: run.runId, say, remove: () => env.stop() });
    });

    beforeEach(async () => {
      await labelStep({
        feature: "Point-in-time recovery with Barman",
        story: config.name,
        parameters: { configuration: options.source, "run id": run.runId },
        versions: state.versions,
      });
    });

    drill.step(`Step 1: seed (${count(expectedCounts.baseline) || "the configured tables"}) and a fresh base backup`, () => seedAndBackUp(ctx));

    drill.step(`Step 2: normal operations (${count(expectedCounts.goodState) || "config.normalWork"})`, () => normalWork(ctx));

    drill.step("Step 3: restore point 'before_disaster' marks the good state", () => markTheGoodState(ctx));

    drill.step("Step 4: the disaster, committed in one transaction", () => theDisaster(ctx));

    drill.step("Step 5: WAL switch, the disaster's WAL archived in Barman, barman check all OK", () => archiveTheDisastersWal(ctx));

    drill.step("Step 6: backup verified, and every WAL segment the targets need present in Barman's archive", () => verifyBackupAndArchive(ctx));

    drill.step(`Step 7: barman recover to ${targets.join(", ")} (--target-action promote)`, () => recoverEachTarget(ctx));

    drill.step("Step 8: the recovered instances start, reach their targets and promote", () => startAndPromote(ctx));

    drill.step("Step 9: each recovered instance holds exactly its target's state; production still shows the disaster", () => checkRecoveredState(ctx));

    drill.step("Step 10: recovery metrics, RTO phase by phase and RPO, judged against the objectives", () => judgeTheRecovery(ctx));

    drill.step("Step 11: switchover plan, the recovered instance accepts writes", () => probeTheSwitchover(ctx));

    drill.step("Step 12: cleanup of the recovered instances and their data, lessons learned", () => cleanUpAndLearn(ctx));
  });
}
