// Every recovery target Barman 3.4 offers, on the same disaster and the same backup, each
// recovered into its own instance with its exact expected state. The last one (no target) is the
// proof that PITR, not "restore the latest", is what saves the day.
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, test } from "vitest";
import { scenario12 } from "../../fixtures/scenario-12.ts";
import { segmentTimeline } from "../../src/barman-output.ts";
import { readSettings, type TargetKindName } from "../../src/config.ts";
import { prepareDisaster, type PreparedDisaster } from "../../src/drill/disaster.ts";
import { DrillEnvironment } from "../../src/drill/environment.ts";
import { readRecoveredState, recoverCopy, startPromoted, type PromotedInstance, type RecoveredCopy, type RecoveredState } from "../../src/drill/recovery.ts";
import { describeTarget, targetForKind, type RecoveryTarget } from "../../src/recovery-target.ts";

const settings = readSettings();
const run = inject("drillRun");
const say = (line: string): void => console.log(`[targets ${run.runId}] ${line}`);
const EMPTY_TABLE_CHECKSUM = "d41d8cd98f00b204e9800998ecf8427e"; // md5('')

interface TargetCase {
  kind: TargetKindName;
  story: string;
  directory: string;
  orders: number;
  normalOrders: number;
  ordersChecksum: (p: PreparedDisaster) => string;
  /** What PostgreSQL must log about where it stopped. */
  stopLine: (p: PreparedDisaster) => RegExp | undefined;
  /**
   * Archive recovery to a target ends with a promotion to a new timeline. Without a target,
   * Barman 3.4 puts the WAL in pg_wal and writes no recovery.signal: PostgreSQL replays it as
   * crash recovery and stays on the backup's timeline.
   */
  timeline: "new" | "same";
}

const { expected } = scenario12;
const allCases: TargetCase[] = [
  {
    story: "--target-time at the good state",
    kind: "time",
    directory: "target-time",
    orders: expected.goodState.orders,
    normalOrders: expected.normalOrders,
    ordersChecksum: (p) => p.goodState.ordersChecksum,
    stopLine: (p) => new RegExp(`recovery stopping before commit of transaction ${p.disaster.xid}\\b`),
    timeline: "new",
  },
  {
    story: "--target-name before_disaster",
    kind: "name",
    directory: "target-name",
    orders: expected.goodState.orders,
    normalOrders: expected.normalOrders,
    ordersChecksum: (p) => p.goodState.ordersChecksum,
    stopLine: (p) => new RegExp(`recovery stopping at restore point "${p.goodState.restorePoint}"`),
    timeline: "new",
  },
  {
    story: "--target-xid of the DELETE with --exclusive",
    kind: "xid-exclusive",
    directory: "target-xid-exclusive",
    orders: expected.goodState.orders,
    normalOrders: expected.normalOrders,
    ordersChecksum: (p) => p.goodState.ordersChecksum,
    stopLine: (p) => new RegExp(`recovery stopping before commit of transaction ${p.disaster.xid}\\b`),
    timeline: "new",
  },
  {
    story: "--target-xid of the DELETE, inclusive (the DELETE replayed)",
    kind: "xid-inclusive",
    directory: "target-xid-inclusive",
    orders: 0,
    normalOrders: 0,
    ordersChecksum: () => EMPTY_TABLE_CHECKSUM,
    stopLine: (p) => new RegExp(`recovery stopping after commit of transaction ${p.disaster.xid}\\b`),
    timeline: "new",
  },
  {
    story: "--target-lsn of the restore point",
    kind: "lsn",
    directory: "target-lsn",
    orders: expected.goodState.orders,
    normalOrders: expected.normalOrders,
    ordersChecksum: (p) => p.goodState.ordersChecksum,
    stopLine: (p) => new RegExp(`recovery stopping after WAL location \\(LSN\\) "${p.goodState.restorePointLsn}"`),
    timeline: "new",
  },
  {
    story: "--target-immediate (consistent at the end of the backup)",
    kind: "immediate",
    directory: "target-immediate",
    orders: expected.baseline.orders,
    normalOrders: 0,
    ordersChecksum: (p) => p.baselineOrdersChecksum,
    stopLine: () => /recovery stopping after reaching consistency/,
    timeline: "new",
  },
  {
    story: "no target: replay to the end of the WAL (the disaster replayed)",
    kind: "latest",
    directory: "no-target",
    orders: 0,
    normalOrders: 0,
    ordersChecksum: () => EMPTY_TABLE_CHECKSUM,
    stopLine: () => undefined,
    timeline: "same",
  },
];

// PGDRILL_TARGET_KINDS chooses a subset (validated in src/config.ts).
const cases = allCases.filter((c) => settings.targetKinds.includes(c.kind));

const targetOf = (c: TargetCase, p: PreparedDisaster): RecoveryTarget =>
  targetForKind(c.kind, { time: p.goodState.time, restorePoint: p.goodState.restorePoint, lsn: p.goodState.restorePointLsn, xid: p.disaster.xid });

type Outcome = { copy?: RecoveredCopy; promoted?: PromotedInstance; state?: RecoveredState; error?: Error };
let env: DrillEnvironment | undefined;
let prepared: PreparedDisaster | undefined;
const outcomes = new Map<string, Outcome>();

describe("Every recovery target on the Scenario 12 disaster", () => {
  beforeAll(async () => {
    env = await DrillEnvironment.start({ name: "targets", run, settings, serverName: scenario12.serverName, database: scenario12.database, progress: say });
    prepared = await prepareDisaster(env, say);
    const p = prepared;
    const e = env;
    // Copies first, one after the other (they share the disk), then all instances at once.
    for (const c of cases) {
      const outcome: Outcome = {};
      outcomes.set(c.directory, outcome);
      try {
        outcome.copy = await recoverCopy(e, { backupId: p.backup.backupId, target: targetOf(c, p), directory: c.directory });
      } catch (error) {
        outcome.error = error as Error;
      }
    }
    say(`${cases.length} copies made; starting the recovered instances together`);
    await Promise.all(
      cases.map(async (c) => {
        const outcome = outcomes.get(c.directory)!;
        if (outcome.error) return;
        try {
          outcome.promoted = await startPromoted(e, { backupId: p.backup.backupId, target: targetOf(c, p), directory: c.directory });
          outcome.state = await readRecoveredState(outcome.promoted.recovered.instance);
        } catch (error) {
          outcome.error = error as Error;
        }
      }),
    );
  });

  afterAll(async () => {
    if (env && !settings.keepResources) await env.stop();
  });

  beforeEach(async () => {
    await allure.epic("Disaster recovery");
    await allure.feature("Recovery targets");
    await allure.parameter("run id", run.runId);
  });

  for (const c of cases) {
    test(c.story, async () => {
      await allure.story(c.story);
      const p = prepared!;
      const outcome = outcomes.get(c.directory)!;
      await allure.parameter("backup id", p.backup.backupId);
      await allure.parameter("recovery target", describeTarget(targetOf(c, p)));
      if (outcome.copy) await allure.attachment("barman recover output", outcome.copy.recoverOutput, "text/plain");
      if (outcome.promoted) await allure.attachment("recovery log lines", outcome.promoted.log.recoveryLines.join("\n"), "text/plain");
      if (outcome.error) throw outcome.error;
      const { copy, promoted, state } = outcome as Required<Outcome>;
      await allure.parameter("RTO barman recover", `${(copy.barmanRecoverMs / 1000).toFixed(3)} s`);
      await allure.parameter("RTO start until promoted (instances started together)", `${(promoted.startUntilPromotedMs / 1000).toFixed(3)} s`);
      await allure.parameter("RTO verification", `${(state.verificationMs / 1000).toFixed(3)} s`);
      say(`${c.story}: recover ${copy.barmanRecoverMs.toFixed(0)} ms, start ${promoted.startUntilPromotedMs.toFixed(0)} ms, ${state.counts.orders} orders`);

      expect(state.counts, "row counts on the recovered instance").toEqual({ users: expected.goodState.users, orders: c.orders });
      expect(state.normalOrders, "NORMAL_ORDER_ rows").toBe(c.normalOrders);
      expect(state.ordersChecksum, "checksum of orders").toBe(c.ordersChecksum(p));
      expect(state.usersChecksum, "checksum of users").toBe(p.goodState.usersChecksum);
      expect(state.inRecovery, "still in recovery").toBe(false);
      if (c.timeline === "new") expect(state.timeline, "promoted to a new timeline").toBeGreaterThan(segmentTimeline(p.closedSegment));
      else expect(state.timeline, "crash recovery stays on the backup's timeline").toBe(segmentTimeline(p.closedSegment));
      const stop = c.stopLine(p);
      const log = promoted.log.recoveryLines.join("\n");
      if (stop) expect(log, "where PostgreSQL says recovery stopped").toMatch(stop);
      else expect(log, "no recovery target: no stop line").not.toMatch(/recovery stopping/);
    });
  }
});
