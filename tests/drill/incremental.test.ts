// Incremental backups (PostgreSQL 17+, summarize_wal; Barman 3.11+, `barman backup --incremental`):
// a full backup, normal work, an incremental backup on top of it, more work, the disaster, and a
// point-in-time recovery from the incremental to the good state, exact to every row. A chain adds
// a way to lose a backup, a damaged or missing parent: each goes red at backup verification,
// naming the parent, before any restore, and leaves nothing behind.
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, test } from "vitest";
import { CI_INCREMENTAL_PAIRS, platformName } from "../../containers/platforms.ts";
import { readSettings } from "../../src/drill/config.ts";
import { applyConfigToSettings, loadDrillConfig } from "../../src/drill/drill-config.ts";
import { runGatedRecovery } from "../../src/engine/gate.ts";
import {
  archiveWalThroughDisaster,
  backUp,
  causeDisaster,
  type DrillFacts,
  type DrillPlan,
  doNormalWork,
  markGoodState,
  prepareTopology,
  resolvePlan,
  seed,
} from "../../src/engine/phases.ts";
import { RecoveryFailedError } from "../../src/engine/recovery-phases.ts";
import type { DrillEnvironment } from "../../src/engine/topology.ts";
import { mebibytes } from "../../src/support/measure.ts";

const run = inject("drillRun");
const say = (line: string): void => console.log(`[incremental ${run.runId}] ${line}`);
const loaded = await loadDrillConfig({ path: "fixtures/scenario-12.config.ts" });
const settings = applyConfigToSettings(readSettings(), loaded.config);

beforeEach(async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("Incremental backups");
  await allure.parameter("run id", run.runId);
});

for (const platform of CI_INCREMENTAL_PAIRS) {
  describe(`Incremental backup chain on ${platformName(platform)}`, () => {
    let env: DrillEnvironment;
    let plan: DrillPlan;
    let facts: DrillFacts;
    let fullBackupId: string;

    beforeAll(async () => {
      const base = await resolvePlan(loaded, { platform });
      plan = {
        ...base,
        // summarize_wal: what PostgreSQL 17's incremental backups are made from.
        primarySettings: { ...base.primarySettings, summarize_wal: "on" },
        // Where Barman combines the chain (pg_combinebackup) before it copies the result.
        barmanSettings: { ...base.barmanSettings, local_staging_path: "/var/lib/barman/staging" },
      };
      env = await prepareTopology(plan, { name: `incr-${platformName(platform).replace(".", "")}`, run, settings, progress: say });
      const { baseline } = await seed(env, plan);
      const full = await backUp(env);
      fullBackupId = full.backup.backupId;
      await doNormalWork(env, plan);
      const incremental = await backUp(env, undefined, { incrementalFrom: fullBackupId });
      say(
        `incremental backup ${incremental.backup.backupId} on top of ${fullBackupId}: ${mebibytes(incremental.backup.sizeBytes)} MiB vs ${mebibytes(full.backup.sizeBytes)} MiB`,
      );
      // Work after the incremental backup: the recovery must replay WAL on top of the combined chain.
      await env.primary.query(
        "INSERT INTO orders (user_id, product, amount) SELECT 1 + i % 1000, 'AFTER_INCREMENTAL_' || i, 9.99 FROM generate_series(1, 50) AS i",
      );
      const goodState = await markGoodState(env, plan);
      const disaster = await causeDisaster(env, plan);
      const { closedSegment } = await archiveWalThroughDisaster(env);
      facts = { baseline, backup: incremental.backup, goodState, disaster, closedSegment };
    });

    afterAll(async () => {
      if (env && !settings.keepResources) await env.stop();
    });

    /** The recovery from the incremental goes red at backup verification, naming the parent, and leaves nothing behind. */
    async function expectRedAtBackupVerification(directory: string): Promise<RecoveryFailedError> {
      const error = await runGatedRecovery(env, plan, facts, { kind: "time", directory }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, "the drill must go red").toBeInstanceOf(RecoveryFailedError);
      const failure = error as RecoveryFailedError;
      await allure.attachment("failure message", env.mask(failure.message), "text/plain");
      expect(failure.phase).toBe("backup verification");
      expect(failure.message).toContain(`the parent backup ${fullBackupId} of ${facts.backup.backupId} is damaged or missing`);
      expect(await env.leftoverRecoveredInstances(), "no recovered instance left behind").toEqual([]);
      return failure;
    }

    // Barman 3.13.3's local restore of a chain moves the combined data directory without pg_wal
    // (recovery_executor.py excludes it, nothing creates it): PostgreSQL 17 refuses to start. 3.20 restores it.
    const pgWalMissing = platform.barman === "3.13";

    if (pgWalMissing)
      test("Barman 3.13: PITR from the incremental backup fails at instance start, pg_wal missing (Barman's bug, caught)", async () => {
        await allure.story(`PITR from an incremental backup (${platformName(platform)})`);
        expect([facts.backup.backupType, facts.backup.parentBackupId], "Barman's catalogue of the chain").toEqual(["incremental", fullBackupId]);
        const error = await runGatedRecovery(env, plan, facts, { kind: "time", directory: "from-incremental" }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, "the restored chain does not start").toBeInstanceOf(RecoveryFailedError);
        const failure = error as RecoveryFailedError;
        await allure.attachment("failure message", env.mask(failure.message), "text/plain");
        expect(failure.phase).toBe("instance start");
        expect(failure.message).toMatch(/FATAL: +required WAL directory "pg_wal" does not exist/);
        expect(await env.leftoverRecoveredInstances()).toEqual([]);
      });
    else
      test("the incremental backup builds on the full one, and PITR from it gives back the good state exactly", async () => {
        await allure.story(`PITR from an incremental backup (${platformName(platform)})`);
        expect([facts.backup.backupType, facts.backup.parentBackupId], "Barman's catalogue of the chain").toEqual(["incremental", fullBackupId]);
        const recovered = await runGatedRecovery(env, plan, facts, { kind: "time", directory: "from-incremental" });
        await allure.attachment("barman restore output", recovered.copy.output, "text/plain");
        expect(recovered.state.snapshot, "every table, rows and digest").toEqual(facts.goodState.snapshot);
        expect(recovered.state.snapshot["orders"]?.rows).toBe(60_154);
      });

    test("a damaged file of the parent backup: red at backup verification, naming the parent", async () => {
      await allure.story(`Damaged parent of an incremental backup (${platformName(platform)})`);
      const { path } = await env.primary.one<{ path: string }>("SELECT pg_relation_filepath('orders') AS path");
      await env.barman.shell(`set -e; f=/var/lib/barman/${plan.serverName}/base/${fullBackupId}/data/${path}; test -s $f; truncate -s 8192 $f`);
      const failure = await expectRedAtBackupVerification("damaged-parent");
      expect(failure.message, "names the damaged file").toContain(path);
    });

    test("the parent backup deleted: red at backup verification, naming the parent", async () => {
      await allure.story(`Missing parent of an incremental backup (${platformName(platform)})`);
      await env.barman.shell(`rm -rf /var/lib/barman/${plan.serverName}/base/${fullBackupId}`, { user: "root" });
      const failure = await expectRedAtBackupVerification("missing-parent");
      expect(failure.message).toMatch(/files are gone from Barman's storage|cannot be read/);
    });
  });
}
