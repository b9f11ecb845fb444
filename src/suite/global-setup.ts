// Runs once before the drill files, in Vitest's main process: validates settings, checks the
// Docker engine, removes what killed runs left behind, builds missing images (with progress), and
// hands the run's identity to the test files. Its teardown removes everything the run created.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { assertEngineAnswers, manualCleanupCommands, reap } from "../../containers/docker-resources.ts";
import { applyTestcontainersHost, describeEndpoint, engineEndpoint, portBindAddress } from "../../containers/engine-endpoint.ts";
import { ensureImages } from "../../containers/images.ts";
import { DEFAULT_PLATFORM } from "../../containers/platforms.ts";
import { readSettings } from "../drill/config.ts";
import { writeReportMetadata } from "../drill/report-metadata.ts";
import type { DrillRun } from "../engine/topology.ts";

declare module "vitest" {
  export interface ProvidedContext {
    drillRun: DrillRun;
  }
}

/** .ts in the repository (Node transforms the types), .js in the built package pgdrill runs from. */
const BUILT = !import.meta.url.endsWith(".ts");
const REAPER = fileURLToPath(new URL(`../../scripts/reap${BUILT ? ".js" : ".ts"}`, import.meta.url));
const REAPER_NODE_FLAGS = BUILT ? [] : ["--experimental-transform-types", "--disable-warning=ExperimentalWarning"];
const say = (line: string): void => console.log(`[drill setup] ${line}`);

// As the repository's vitest.config.ts and `pgdrill drill` do, for a team's own Vitest run with this
// global set-up: no Ryuk (its image cannot be pulled where no registry answers; the drill removes what
// it starts by label), published ports reached where the engine binds them. Set before the test
// workers start, which inherit it.
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";
applyTestcontainersHost(process.env);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const settings = readSettings();
  const engine = await assertEngineAnswers();
  const endpoint = engineEndpoint();
  say(`Docker engine ${engine.version} (API ${engine.apiVersion}): ${describeEndpoint(endpoint, await portBindAddress(endpoint))}`);

  const leftovers = await reap();
  const count = leftovers.containers.length + leftovers.networks.length + leftovers.volumes.length;
  if (count > 0) say(`removed leftovers of earlier runs: ${[...leftovers.containers, ...leftovers.networks, ...leftovers.volumes].join(", ")}`);

  const started = performance.now();
  const { images, built } = await ensureImages({ platform: DEFAULT_PLATFORM, baseOverride: settings.baseImage, progress: say });
  say(
    built.length > 0
      ? `built ${built.join(", ")} in ${((performance.now() - started) / 1000).toFixed(1)} s`
      : `images cached: ${images.postgres}, ${images.barman}`,
  );

  await writeReportMetadata({
    "docker.engine": engine.version,
    node: process.version,
    machine: `${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}`,
  });

  const runId = `${new Date().toISOString().slice(0, 10).replaceAll("-", "")}-${randomBytes(3).toString("hex")}`;
  project.provide("drillRun", { runId, ownerPid: process.pid, images });

  let tornDown = false;
  const teardown = async (): Promise<void> => {
    if (tornDown) return;
    tornDown = true;
    if (settings.keepResources) {
      say(`PGDRILL_KEEP is set: containers, network and volume of run ${runId} are kept. Remove them with:`);
      for (const command of manualCleanupCommands(runId)) say(`  ${command}`);
      return;
    }
    const removed = await reap({ runId });
    say(`removed run ${runId}: ${removed.containers.length} containers, ${removed.networks.length} networks, ${removed.volumes.length} volumes`);
  };
  // Ctrl-C or a cancelled CI job: Vitest exits a millisecond after the signal, too soon for any
  // asynchronous clean-up here, so a detached reaper removes the run once this process is gone.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      if (settings.keepResources || tornDown) return;
      tornDown = true;
      const reaper = spawn(process.execPath, [...REAPER_NODE_FLAGS, REAPER, "--run", runId, "--after-pid", String(process.pid)], {
        detached: true,
        stdio: "ignore",
      });
      reaper.unref();
      console.error(`[drill setup] ${signal}: removing run ${runId}'s containers in the background (check with: npm run clean:docker)`);
    });
  }
  return teardown;
}
