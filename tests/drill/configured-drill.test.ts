// The drill on a user's own configuration: the project's pgdrill.config.ts (or PGDRILL_CONFIG),
// and every configuration in examples/. Each target's recovered instance must match, table by
// table, the state the primary had at the matching checkpoint.
import { readdirSync } from "node:fs";
import * as allure from "allure-js-commons";
import { beforeAll, describe, expect, inject, test } from "vitest";
import { readSettings } from "../../src/config.ts";
import { applyConfigToSettings, loadDrillConfig, type LoadedDrillConfig } from "../../src/drill-config.ts";
import { runConfiguredDrill, type ConfiguredDrillResult } from "../../src/drill/configured-drill.ts";

const run = inject("drillRun");
const say = (line: string): void => console.log(`[config ${run.runId}] ${line}`);
const examples = readdirSync("examples", { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => `examples/${e.name}/pgdrill.config.ts`);
const configs: Array<[string, LoadedDrillConfig]> = [
  ["project configuration", await loadDrillConfig()],
  ...(await Promise.all(examples.map(async (path): Promise<[string, LoadedDrillConfig]> => [path, await loadDrillConfig({ path })]))),
];

describe.each(configs)("%s", (source, loaded) => {
  let result: ConfiguredDrillResult;
  const { config } = loaded;

  beforeAll(async () => {
    const settings = applyConfigToSettings(readSettings(), config);
    const name = `cfg-${source.replace(/[^a-z0-9]+/gi, "-").toLowerCase().slice(0, 30)}`;
    result = await runConfiguredDrill({ name, config, configPath: loaded.path, settings, run, progress: say });
  });

  for (const kind of config.targets ?? ["time"]) {
    test(`${config.name}: recovery to ${kind} matches the primary's state`, async () => {
      await allure.epic("Disaster recovery");
      await allure.feature("Your own drill (pgdrill.config.ts)");
      await allure.story(config.name);
      await allure.parameter("configuration", source);
      const outcome = result.targets.find((t) => t.kind === kind)!;
      await allure.parameter("backup id", result.backupId);
      await allure.parameter("compared with", outcome.checkpoint);
      await allure.attachment("recovered tables", JSON.stringify({ expected: result.snapshots[outcome.checkpoint], recovered: outcome.recovered }, null, 2), "application/json");
      if (outcome.phasesMs) {
        for (const [phase, ms] of Object.entries(outcome.phasesMs)) await allure.parameter(`RTO ${phase}`, `${(ms / 1000).toFixed(3)} s`);
      }
      expect(outcome.error, "recovery error").toBeUndefined();
      expect(outcome.mismatches, "differences from the primary's state").toEqual([]);
      expect(outcome.recovered, "recovered tables").toEqual(result.snapshots[outcome.checkpoint]);
    });
  }
});
