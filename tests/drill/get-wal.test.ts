// WAL fetched at restore time, as many production setups run it: `barman restore --get-wal`, the
// recovered instance fetching each segment from the Barman server during replay with
// barman-wal-restore over SSH (a key made for the run), the restore command Barman writes for a
// remote restore. On each Barman version with PostgreSQL 15, beside the copy mode; a segment
// missing from the archive makes it go red at instance start.
import * as allure from "allure-js-commons";
import { beforeEach, describe, expect, inject, test } from "vitest";
import type { BarmanVersion } from "../../containers/platforms.ts";
import { removeArchivedSegment } from "../../fixtures/faults.ts";
import { readSettings } from "../../src/drill/config.ts";
import { applyConfigToSettings, loadDrillConfig } from "../../src/drill/drill-config.ts";
import { prepareDisaster, runGatedRecovery } from "../../src/engine/gate.ts";
import { prepareTopology, resolvePlan } from "../../src/engine/phases.ts";
import { RecoveryFailedError, recoverToTarget, startUntilPromoted, targetOf, walNeededThrough } from "../../src/engine/recovery-phases.ts";
import { seconds } from "../../src/support/measure.ts";

const run = inject("drillRun");
const say = (line: string): void => console.log(`[get-wal ${run.runId}] ${line}`);
const loaded = await loadDrillConfig({ path: "fixtures/scenario-12.config.ts" });
const settings = applyConfigToSettings(readSettings(), loaded.config);

beforeEach(async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("WAL fetched at restore time (--get-wal)");
  await allure.parameter("run id", run.runId);
});

describe("--get-wal: the recovered instance fetches WAL from Barman during replay (PostgreSQL 15)", () => {
  test.each<BarmanVersion>(["3.4", "3.13", "3.20"])("Barman %s: same state as the copy mode, and red at instance start without a segment", async (barman) => {
    await allure.story(`--get-wal with Barman ${barman}`);
    const plan = await resolvePlan(loaded, { platform: { postgres: "15", barman } });
    const env = await prepareTopology(plan, { name: `getwal-${barman.replace(".", "")}`, run, settings, progress: say });
    try {
      const facts = await prepareDisaster(env, plan, say);
      const copied = await runGatedRecovery(env, plan, facts, { kind: "time", directory: "copy" });
      const fetched = await runGatedRecovery(env, plan, facts, { kind: "time", directory: "get-wal", walFromBarman: true });
      await allure.attachment("postgresql.auto.conf (--get-wal)", fetched.copy.autoConf, "text/plain");
      expect(fetched.copy.autoConf, "the restore command Barman writes for a remote restore").toMatch(
        new RegExp(`^restore_command = 'barman-wal-restore -P -U barman barman ${plan.serverName} %f %p'$`, "m"),
      );
      expect(fetched.state.snapshot, "WAL fetched at replay gives the same state as WAL copied").toEqual(copied.state.snapshot);
      const rto = (r: typeof copied): string => `barman ${seconds(r.copy.durationMs)}, start until promoted ${seconds(r.promoted.durationMs)}`;
      await allure.parameter("RTO copy mode", rto(copied));
      await allure.parameter("RTO --get-wal", rto(fetched));
      say(`Barman ${barman}: copy mode ${rto(copied)}; --get-wal ${rto(fetched)}`);

      // A segment the replay needs, gone from the archive (file and catalogue). The gate's WAL
      // check would catch it first; here the restore runs without it to show what --get-wal does.
      const segment = await walNeededThrough(env, "name", facts);
      await removeArchivedSegment(env, segment);
      const target = targetOf("time", facts);
      await recoverToTarget(env, { backupId: facts.backup.backupId, target, directory: "get-wal-missing", walFromBarman: true });
      const error = await startUntilPromoted(env, { backupId: facts.backup.backupId, target, directory: "get-wal-missing", walFromBarman: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `replay without ${segment}`).toBeInstanceOf(RecoveryFailedError);
      const failure = error as RecoveryFailedError;
      await allure.attachment("failure message", env.mask(failure.message), "text/plain");
      expect(failure.phase).toBe("instance start");
      expect(failure.message).toMatch(/FATAL: +recovery ended before configured recovery target was reached/);
      expect(await env.leftoverRecoveredInstances(), "no recovered instance left behind").toEqual([]);
    } finally {
      if (!settings.keepResources) await env.stop();
    }
  });
});
