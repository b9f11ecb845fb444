// Scenario 13's pure parts: data loss from the application's log, the application's RTO and its
// phases, the objectives, the side-by-side table and chart, the runbook, the configuration, PgBouncer's file.
import { describe, expect, test } from "vitest";
import { pgbouncerIni } from "../../containers/pgbouncer/pgbouncer-container.ts";
import { dataLossChecks, fencedWindowChecks, hostLossChecks } from "../../src/asserts/full-dr-asserts.ts";
import { archivedSegmentPath } from "../../src/barman/barman-output.ts";
import { type DrillConfig, DrillConfigError, validateDrillConfig } from "../../src/drill/drill-config.ts";
import { measureDataLoss, outageFromLog, type WorkloadAttempt } from "../../src/scenario-13/data-loss.ts";
import {
  applicationRto,
  executedRunbook,
  type FullDrMetrics,
  judgeFullDr,
  modeComparisonSvg,
  type OutageMarks,
  renderModeComparison,
} from "../../src/scenario-13/full-dr-metrics.ts";

/** An acknowledged attempt every 5 ms (200/s), server times 5 ms apart from 10:00:00. */
const acked = (id: number): WorkloadAttempt => ({
  id,
  outcome: "acked",
  serverTime: `2026-12-02 10:00:${String(Math.floor((id * 5) / 1000)).padStart(2, "0")}.${String((id * 5) % 1000).padStart(3, "0")}+00`,
  sentAtMs: id * 5,
  doneAtMs: id * 5 + 1,
});
const failed = (id: number): WorkloadAttempt => ({ id, outcome: "failed", error: "server conn crashed?", sentAtMs: id * 5, doneAtMs: id * 5 + 1 });
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("measureDataLoss", () => {
  test("nothing lost: every acknowledged commit recovered", () => {
    const loss = measureDataLoss(range(1, 100).map(acked), range(1, 100));
    expect(loss).toMatchObject({ acknowledged: 100, lost: { count: 0, spanSeconds: 0 }, rpoSeconds: 0, holes: [], unacknowledgedButRecovered: { count: 0 } });
    expect(loss.lastRecovered?.id).toBe(100);
  });

  test("a lost tail: count, first and last id, span and the seconds of work lost", () => {
    const loss = measureDataLoss(range(1, 1000).map(acked), range(1, 800));
    expect(loss.lost).toEqual({
      count: 200,
      firstId: 801,
      lastId: 1000,
      firstServerTime: "2026-12-02 10:00:04.005+00",
      lastServerTime: "2026-12-02 10:00:05.000+00",
      spanSeconds: 0.995,
    });
    // Newest acknowledged (id 1000 at 5.000 s) minus newest recovered (id 800 at 4.000 s).
    expect(loss.rpoSeconds).toBeCloseTo(1, 6);
    expect(loss.holes).toEqual([]);
  });

  test("a commit in flight at the loss that the new primary holds is reported, not counted as lost", () => {
    const attempts = [...range(1, 10).map(acked), failed(11)];
    const loss = measureDataLoss(attempts, range(1, 11));
    expect(loss.lost.count).toBe(0);
    expect(loss.unacknowledgedButRecovered).toEqual({ count: 1, ids: [11] });
  });

  test("a missing commit older than a recovered one is a hole (damaged data), not a lost tail", () => {
    const loss = measureDataLoss(range(1, 10).map(acked), [1, 2, 3, 5, 6, 7, 8]);
    expect(loss.holes).toEqual([4]);
    expect(loss.lost.count).toBe(3);
  });

  test("nothing recovered at all: everything since the first acknowledged commit was lost", () => {
    const loss = measureDataLoss(range(1, 201).map(acked), []);
    expect(loss.lost.count).toBe(201);
    expect(loss.rpoSeconds).toBeCloseTo(1, 6);
    expect(loss.lastRecovered).toBeUndefined();
  });

  test("failed attempts are neither acknowledged nor lost", () => {
    const loss = measureDataLoss([...range(1, 5).map(acked), ...range(6, 9).map(failed)], range(1, 5));
    expect(loss).toMatchObject({ acknowledged: 5, lost: { count: 0 } });
  });
});

describe("outageFromLog", () => {
  test("the last acknowledgement before the first failure after the loss, even one that arrived just after the kill", () => {
    const attempts = [...range(1, 10).map(acked), ...range(11, 20).map(failed)];
    // Killed at 48 ms: attempt 10 (sent 50, done 51) was still answered by the old primary.
    const outage = outageFromLog(attempts, 48);
    expect(outage.lastAckBeforeLoss?.id).toBe(10);
    expect(outage.firstFailure?.id).toBe(11);
    expect(outage.failedAttempts).toBe(10);
  });

  test("failures before the loss are not the outage", () => {
    const attempts = [acked(1), failed(2), acked(3), failed(4)];
    expect(outageFromLog(attempts, 19).firstFailure?.id).toBe(4);
    expect(outageFromLog(attempts, 19).lastAckBeforeLoss?.id).toBe(3);
  });

  test("no failure yet", () => {
    expect(outageFromLog([acked(1), acked(2)], 0)).toEqual({ lastAckBeforeLoss: acked(2), firstFailure: undefined, failedAttempts: 0 });
  });
});

const marks: OutageMarks = {
  lastAckBeforeLoss: 1000,
  firstFailure: 1010,
  restoreStarted: 1100,
  restoreFinished: 2600,
  promoted: 4600,
  switchStarted: 4700,
  switchFinished: 4740,
  firstAckOnNewPrimary: 4850,
};

describe("applicationRto", () => {
  test("consecutive phases that add up to the application's RTO exactly", () => {
    const rto = applicationRto(marks);
    expect(rto.applicationMs).toBe(3850);
    expect(rto.phasesMs).toEqual({
      detectionMs: 10,
      beforeRestoreMs: 90,
      restoreMs: 1500,
      startUntilPromotedMs: 2000,
      lossMeasuredMs: 100,
      switchMs: 40,
      firstCommitMs: 110,
    });
    expect(Object.values(rto.phasesMs).reduce((a, b) => a + b, 0)).toBe(rto.applicationMs);
  });

  test("marks out of order are refused, naming the phase", () => {
    expect(() => applicationRto({ ...marks, firstAckOnNewPrimary: 4600 })).toThrow(
      /RTO phase 'first acknowledged commit on the new primary' has no valid duration/,
    );
  });
});

const judge = (loss = measureDataLoss(range(1, 1000).map(acked), range(1, 800)), objectives = { rpoCommits: 200, rpoSeconds: 1, rtoApplicationS: 60 }) =>
  judgeFullDr({
    runId: "r",
    drill: "d",
    walMode: "archive",
    platform: "pg15-barman3.13",
    versions: { postgres: "15", barman: "3.13" },
    ratePerSecond: 200,
    attemptsBeforeRecovery: 1000,
    loss,
    marks,
    timelines: { lost: 1, new: 2 },
    objectives,
  });

describe("judgeFullDr", () => {
  test("within the objectives: pass, with every figure", () => {
    const m = judge();
    expect(m).toMatchObject({
      verdict: "pass",
      violations: [],
      rpo: { commitsLost: 200, firstLostId: 801, lastLostId: 1000, unacknowledgedButRecovered: 0 },
      rto: { applicationMs: 3850 },
      workload: { acknowledgedBeforeLoss: 1000 },
    });
  });

  test("each objective missed is one sentence naming its setting", () => {
    const m = judge(undefined, { rpoCommits: 10, rpoSeconds: 0.5, rtoApplicationS: 2 });
    expect(m.verdict).toBe("fail");
    expect(m.violations).toEqual([
      "RPO: 200 acknowledged commits lost (ids 801..1000), over the objective of 10 (fullDr.objectives.rpoCommits)",
      "RPO: 1.000 s of acknowledged work lost, over the objective of 0.5 s (fullDr.objectives.rpoSeconds)",
      "RTO as the application saw it: 3.85 s, over the objective of 2 s (fullDr.objectives.rtoApplicationS); the largest phase is startUntilPromotedMs (2.00 s)",
    ]);
  });

  test("exactly at the objectives passes", () => {
    expect(judge(undefined, { rpoCommits: 200, rpoSeconds: 1, rtoApplicationS: 3.85 }).verdict).toBe("pass");
  });
});

describe("dataLossChecks", () => {
  const failedChecks = (...args: Parameters<typeof dataLossChecks>) => dataLossChecks(...args).filter((c) => !c.ok);
  test("synchronous mode: a single lost commit fails, whatever the objectives", () => {
    const oneLost = measureDataLoss(range(1, 10).map(acked), range(1, 9));
    expect(failedChecks(oneLost, { walMode: "synchronous", rpoCommits: 100, rpoSeconds: 100 }).map((c) => c.what)).toEqual([
      "acknowledged commits lost with synchronous WAL streaming",
    ]);
    expect(failedChecks(measureDataLoss(range(1, 10).map(acked), range(1, 10)), { walMode: "synchronous", rpoCommits: 0, rpoSeconds: 0 })).toEqual([]);
  });

  test("other modes: judged against the objectives; a hole always fails", () => {
    const tail = measureDataLoss(range(1, 1000).map(acked), range(1, 800));
    expect(failedChecks(tail, { walMode: "archive", rpoCommits: 200, rpoSeconds: 1 })).toEqual([]);
    expect(failedChecks(tail, { walMode: "streaming", rpoCommits: 199, rpoSeconds: 1 }).map((c) => c.what)).toEqual(["acknowledged commits lost"]);
    const hole = measureDataLoss(range(1, 10).map(acked), [1, 2, 4, 5, 6, 7, 8, 9, 10]);
    expect(failedChecks(hole, { walMode: "archive", rpoCommits: 100, rpoSeconds: 100 }).map((c) => c.what)).toEqual([
      "acknowledged commits missing from the new primary although a later one is present",
    ]);
    expect(failedChecks(measureDataLoss([], []), { walMode: "archive", rpoCommits: 0, rpoSeconds: 0 }).map((c) => c.what)).toEqual([
      "acknowledged commits before the loss",
    ]);
  });
});

describe("host loss and fencing checks", () => {
  test("a surviving container or volume fails", () => {
    expect(hostLossChecks({ containerExists: false, volume: "v", volumeExists: false }).every((c) => c.ok)).toBe(true);
    expect(hostLossChecks({ containerExists: true, volume: "v", volumeExists: true }).filter((c) => !c.ok)).toHaveLength(2);
    expect(hostLossChecks({ containerExists: false, volume: undefined, volumeExists: false }).filter((c) => !c.ok)).toHaveLength(1);
  });

  test("an acknowledgement between the loss and the switch fails (something answered at the old address)", () => {
    expect(fencedWindowChecks([])[0]!.ok).toBe(true);
    expect(fencedWindowChecks([812])[0]!.ok).toBe(false);
  });
});

describe("side by side and the runbook", () => {
  const archive = judge();
  const synchronous: FullDrMetrics = { ...judge(measureDataLoss(range(1, 10).map(acked), range(1, 10))), walMode: "synchronous" };

  test("one table row per mode with its loss and RTO", () => {
    const table = renderModeComparison([archive, synchronous]).split("\n");
    expect(table).toHaveLength(4);
    expect(table[2]).toBe("| archive | 200 of 1000 | 1.000 s | 0 | 3.85 s | 1.50 s | 2.00 s | 0.15 s | pass |");
    expect(table[3]).toMatch(/^\| synchronous \| 0 of 10 \| 0\.000 s \|/);
  });

  test("the chart has a bar per mode and metric, labelled, and escapes text", () => {
    const svg = modeComparisonSvg([archive, synchronous]);
    expect(svg.match(/<rect /g)).toHaveLength(4);
    expect(svg).toContain(">archive<");
    expect(svg).toContain(">3.85 s<");
    expect(modeComparisonSvg([])).toContain("<svg");
  });

  test("the runbook lists every action in order with its time, and the outcome", () => {
    const text = executedRunbook({
      drill: "S13",
      walMode: "archive",
      entries: [
        { action: "fence", detail: "DISABLE shop", durationMs: 12 },
        { action: "restore", detail: "barman restore\n--get-wal", durationMs: 1500 },
      ],
      metrics: archive,
    });
    expect(text.split("\n")).toEqual([
      "RUNBOOK EXECUTED: S13 (WAL mode archive)",
      "Generated from what the drill did; times measured by the drill.",
      "",
      " 1. fence [0.01 s]",
      "      DISABLE shop",
      " 2. restore [1.50 s]",
      "      barman restore",
      "      --get-wal",
      "",
      "Outcome: 200 acknowledged commits lost (1.000 s of work); the application was without a database for 3.85 s.",
    ]);
  });
});

describe("the fullDr configuration", () => {
  const base: DrillConfig = {
    name: "s13",
    seed: ["CREATE TABLE t (id int)"],
    normalWork: ["INSERT INTO t VALUES (1)"],
    disaster: ["DELETE FROM t"],
    verify: { tables: ["t"] },
  };
  const problems = (fullDr: unknown): string[] => {
    try {
      validateDrillConfig({ ...base, fullDr }, "test");
      return [];
    } catch (error) {
      expect(error).toBeInstanceOf(DrillConfigError);
      return (error as DrillConfigError).problems;
    }
  };

  test("valid modes", () => {
    expect(problems({ walMode: "synchronous" })).toEqual([]);
    expect(problems({ walMode: "archive", archiveTimeoutS: 5, workload: { ratePerSecond: 200, commitsBeforeDisaster: 1500 } })).toEqual([]);
  });

  test("each problem names its setting", () => {
    expect(problems({ walMode: "archive" })).toEqual([
      "config.fullDr.archiveTimeoutS: walMode archive ships WAL only when a segment is full or archive_timeout passes: set the primary's archive_timeout in seconds",
    ]);
    expect(problems({ walMode: "logical" })[0]).toBe("config.fullDr.walMode: allowed: archive, streaming, synchronous");
    expect(problems({ walMode: "streaming", workload: { ratePerSecond: 0 } })[0]).toBe(
      "config.fullDr.workload.ratePerSecond: must be at least 1 commit per second",
    );
    expect(problems({ walMode: "streaming", objectives: { rpoCommits: 1.5 } })[0]).toBe(
      "config.fullDr.objectives.rpoCommits: must be a whole number of commits",
    );
    expect(problems({ walMode: "streaming", objectives: { rpo: 1 } })[0]).toMatch(/^config\.fullDr\.objectives: Unrecognized key: "rpo"/);
  });
});

describe("PgBouncer and Barman paths", () => {
  test("pgbouncer.ini names the server and the lowered timeouts", () => {
    const ini = pgbouncerIni({ database: "shop", serverHost: "pg-recovered-new-primary" });
    expect(ini).toContain("shop = host=pg-recovered-new-primary port=5432 dbname=shop");
    expect(ini).toMatch(/^server_login_retry = 1$/m);
    expect(ini).toMatch(/^auth_type = scram-sha-256$/m);
  });

  test("a timeline history file sits at the top of Barman's archive", () => {
    expect(archivedSegmentPath("/var/lib/barman/s/wals", "00000002.history")).toBe("/var/lib/barman/s/wals/00000002.history");
    expect(() => archivedSegmentPath("/w", "00000002.histor")).toThrow(/not a WAL segment name/);
  });
});
