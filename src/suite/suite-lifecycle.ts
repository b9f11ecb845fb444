// What every ordered drill suite does around its steps: the report's labels and parameters before
// each step, and at the end the environment removed, or kept with the commands that remove it.
import * as allure from "allure-js-commons";
import { inject } from "vitest";
import { manualCleanupCommands } from "../../containers/docker-resources.ts";
import { type DrillSettings, readSettings } from "../drill/config.ts";
import { applyConfigToSettings, type DrillConfig, type LoadedDrillConfig } from "../drill/drill-config.ts";
import type { DrillRun } from "../engine/topology.ts";

export async function removeUnlessKept(options: { keep: boolean; runId: string; say: (line: string) => void; remove: () => Promise<void> }): Promise<void> {
  if (options.keep) {
    options.say("PGDRILL_KEEP is set, containers kept. Remove them with:");
    for (const command of manualCleanupCommands(options.runId)) options.say(`  ${command}`);
    return;
  }
  await options.remove();
}

/** Labels and parameters of a step. No secret goes into the report, not even "masked": Allure keeps a masked value in its result files. */
export async function labelStep(options: {
  feature: string;
  story: string;
  parameters: Record<string, string>;
  versions: { postgres: string; barman: string } | undefined;
}): Promise<void> {
  await allure.epic("Disaster recovery");
  await allure.feature(options.feature);
  await allure.story(options.story);
  for (const [name, value] of Object.entries(options.parameters)) await allure.parameter(name, value);
  if (options.versions) {
    await allure.parameter("PostgreSQL", options.versions.postgres);
    await allure.parameter("Barman", options.versions.barman);
  }
}

/** The configuration, its settings, the run and a progress line with the suite's name and elapsed time. */
export function suiteContext(
  loaded: LoadedDrillConfig,
  name: string,
): { config: DrillConfig; settings: DrillSettings; run: DrillRun; say: (line: string) => void } {
  const config = loaded.config;
  const run = inject("drillRun");
  const started = performance.now();
  return {
    config,
    settings: applyConfigToSettings(readSettings(), config),
    run,
    say: (line) => console.log(`[${name} ${run.runId} +${((performance.now() - started) / 1000).toFixed(1)}s] ${line}`),
  };
}

/** A value an earlier step must have produced; the ordered scenario skips steps after a failure. */
export function stateReader<S extends object>(state: Partial<S>): <K extends keyof S>(key: K) => NonNullable<S[K]> {
  return (key) => {
    const value = state[key];
    if (value === undefined || value === null) throw new Error(`drill state '${String(key)}' is missing: an earlier step did not produce it`);
    return value as NonNullable<(typeof state)[typeof key]> as never;
  };
}
