// The gate must be able to fail. Each drill here injects one fault a real Barman setup can have,
// runs the same recovery code the green drills run, and checks that it goes red with a message a
// DBA understands (what failed, which backup, which target, the server's own words) and that no
// recovered instance is left behind.
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, test } from "vitest";
import { docker } from "../../containers/docker-resources.ts";
import { removeArchivedSegment } from "../../fixtures/faults.ts";
import type { RecoveryTarget } from "../../src/barman/recovery-target.ts";
import { budgetOf, readSettings, type TargetKindName } from "../../src/drill/config.ts";
import { applyConfigToSettings, loadDrillConfig } from "../../src/drill/drill-config.ts";
import { prepareDisaster, runGatedRecovery } from "../../src/engine/gate.ts";
import { backUp, type DrillFacts, type DrillPlan, prepareTopology, resolvePlan, seed } from "../../src/engine/phases.ts";
import { RecoveryFailedError, walNeededThrough } from "../../src/engine/recovery-phases.ts";
import type { DrillEnvironment } from "../../src/engine/topology.ts";
import { pollUntil } from "../../src/support/wait.ts";

const run = inject("drillRun");
const say = (line: string): void => console.log(`[faults ${run.runId}] ${line}`);
const loaded = await loadDrillConfig({ path: "fixtures/scenario-12.config.ts" });
const settings = applyConfigToSettings(readSettings(), loaded.config);
const basePlan = await resolvePlan(loaded);
const barmanHome = `/var/lib/barman/${basePlan.serverName}`;

/** Runs the gated recovery expecting it to fail; returns the error after recording it as evidence. */
async function expectRedDrill(
  env: DrillEnvironment,
  prepared: DrillFacts,
  fault: { kind: TargetKindName; target?: RecoveryTarget },
  directory: string,
): Promise<RecoveryFailedError> {
  const outcome = await runGatedRecovery(env, basePlan, prepared, { ...fault, directory }).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome, "the drill must go red").toBeInstanceOf(RecoveryFailedError);
  const error = outcome as RecoveryFailedError;
  say(`red as expected (${directory}):\n${error.message}`);
  await allure.attachment("failure message", env.mask(error.message), "text/plain");
  expect(error.message, "names the backup").toContain(prepared.backup.backupId);
  expect(await env.leftoverRecoveredInstances(), "no recovered instance left behind").toEqual([]);
  return error;
}

beforeEach(async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("Failure drills: the gate goes red");
  await allure.parameter("run id", run.runId);
});

describe("Faults in the request, the archive and the backup", () => {
  let env: DrillEnvironment;
  let prepared: DrillFacts;

  beforeAll(async () => {
    env = await prepareTopology(basePlan, { name: "faults", run, settings, progress: say });
    prepared = await prepareDisaster(env, basePlan, say);
  });

  afterAll(async () => {
    if (env && !settings.keepResources) await env.stop();
  });

  // The faults that change nothing come first; the destructive ones after, in this order.
  test("target time before the backup's end: Barman refuses and names both times", async () => {
    await allure.story("Target time before the backup's end");
    const end = prepared.backup.endTime;
    const tooEarly = new Date(end.getTime() - 60_000).toISOString().replace("T", " ").replace("Z", "+00:00");
    const error = await expectRedDrill(env, prepared, { kind: "time", target: { kind: "time", time: tooEarly } }, "too-early");
    expect(error.phase).toBe("barman recover");
    expect(error.message).toMatch(/is before the backup end time/);
    expect(error.message, "names the requested time").toContain(tooEarly.slice(0, 19));
    expect(error.message, "names the backup's end time").toContain(end.toISOString().slice(0, 19).replace("T", " "));
  });

  test("a restore point that does not exist: recovery never reaches it", async () => {
    await allure.story("Unknown restore point");
    const error = await expectRedDrill(env, prepared, { kind: "name", target: { kind: "name", name: "no_such_restore_point" } }, "no-such-name");
    expect(error.phase).toBe("instance start");
    expect(error.message).toContain("restore point 'no_such_restore_point'");
    expect(error.message).toMatch(/FATAL: +recovery ended before configured recovery target was reached/);
  });

  test("a WAL segment between the backup and the target is missing from Barman's archive: red before any recovery, naming it", async () => {
    await allure.story("Missing WAL segment");
    const segment = await walNeededThrough(env, "name", prepared);
    expect(segment > prepared.backup.endWal, `segment ${segment} lies after the backup's end WAL ${prepared.backup.endWal}`).toBe(true);
    await removeArchivedSegment(env, segment);
    await allure.parameter("removed WAL segment", segment);
    const error = await expectRedDrill(env, prepared, { kind: "time" }, "missing-wal");
    expect(error.phase, "caught by the WAL check, before barman recover").toBe("WAL verification");
    expect(error.message, "names the missing segment").toContain(segment);
    expect(error.message).toMatch(/missing from Barman's archive/);
  });

  test("a damaged base backup: a data file truncated is caught before any recovery", async () => {
    await allure.story("Damaged base backup");
    const { path } = await env.primary.one<{ path: string }>("SELECT pg_relation_filepath('orders') AS path");
    const file = `${barmanHome}/base/${prepared.backup.backupId}/data/${path}`;
    await env.barman.shell(`set -e; test -s ${file}; truncate -s 8192 ${file}`);
    await allure.parameter("truncated file", file);
    const error = await expectRedDrill(env, prepared, { kind: "time" }, "damaged-backup");
    expect(error.phase).toBe("backup verification");
    expect(error.message).toMatch(/pg_verifybackup/);
    expect(error.message, "names the damaged file").toContain(path);
  });

  test("the Barman server stopped in the middle of the drill", async () => {
    await allure.story("Barman server down");
    await env.barmanServer.stop({ remove: false, timeout: 0 });
    const error = await expectRedDrill(env, prepared, { kind: "time" }, "barman-down");
    expect(error.phase).toBe("backup verification");
    expect(error.message).toMatch(/the Barman server \(container [^)]+\) is not running/);
  });
});

describe("The primary stopped while a backup is running", () => {
  let env: DrillEnvironment;

  beforeAll(async () => {
    // A bandwidth limit (pg_basebackup --max-rate) keeps the copy running long enough to be cut.
    const plan: DrillPlan = { ...basePlan, barmanSettings: { ...basePlan.barmanSettings, bandwidth_limit: "4096" } };
    env = await prepareTopology(plan, { name: "backup-cut", run, settings, progress: say });
    await seed(env, plan);
  });

  afterAll(async () => {
    if (env && !settings.keepResources) await env.stop();
  });

  test("barman backup fails, says why, and is not listed as a usable backup", async () => {
    await allure.story("Primary down during the backup");
    let killed: Promise<void> | undefined;
    let copiedBeforeKill = 0;
    const outcome = await backUp(env, (line) => {
      say(`barman backup: ${line}`);
      if (!killed && line.includes("Starting backup copy via pg_basebackup")) {
        // Kill once data is really flowing: more than 1 MiB of the copy on Barman's disk.
        killed = pollUntil({
          what: "pg_basebackup copying data into Barman",
          budget: budgetOf(settings, "backup"),
          probe: async () => Number(await env.barman.shell(`du -sb ${barmanHome}/base/*/data 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'`)),
          done: (bytes) => bytes > 1_048_576,
          intervalMs: 50,
        }).then(async (bytes) => {
          await docker().getContainer(env.primary.getId()).kill();
          copiedBeforeKill = bytes;
          say(`primary killed after ${bytes} bytes of the copy`);
        });
      }
    }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    await killed;
    expect(killed, "the copy started and the primary was killed during it").toBeDefined();
    expect(copiedBeforeKill, "bytes copied before the kill").toBeGreaterThan(1_048_576);
    expect(outcome, "barman backup must fail").toBeInstanceOf(Error);
    say(`red as expected:\n${outcome!.message}`);
    await allure.attachment("failure message", env.mask(outcome!.message), "text/plain");
    expect(outcome!.message).toMatch(/`barman backup .*` failed on the Barman server/);
    expect(outcome!.message).toMatch(/pg_basebackup|connection|terminat/i);
    const listed = await env.barman.listBackups();
    expect(
      listed.filter((b) => b.status === "DONE"),
      "no backup may be DONE",
    ).toEqual([]);
  });
});
