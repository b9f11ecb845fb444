import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { parseShowBackup } from "../../src/barman/barman-output.ts";
import { OBJECTIVE_DEFAULTS, type RecoveryObjectives, readSettings } from "../../src/drill/config.ts";
import type { RtoHistoryEntry } from "../../src/drill/rto-history.ts";
import { incidentReportFor, judgeRecovery } from "../../src/engine/judge.ts";
import type { Disaster, GoodState } from "../../src/engine/phases.ts";
import { EMPTY_TABLE_CHECKSUM, type TableSnapshot } from "../../src/engine/row-digest.ts";

const PLAN = { name: "Scenario 12: accidental DELETE of all orders", serverName: "pg-primary", platform: { postgres: "15", barman: "3.4" } as const };
const BACKUP = parseShowBackup(readFileSync(new URL("./samples/barman-3.4-show-backup.json", import.meta.url), "utf8"), "pg-primary");

const GOOD: TableSnapshot = { users: { rows: 1000, checksum: "users-0" }, orders: { rows: 60104, checksum: "orders-1" } };
const AFTER_DELETE: TableSnapshot = { users: { rows: 1000, checksum: "users-0" }, orders: { rows: 0, checksum: EMPTY_TABLE_CHECKSUM } };

const GOOD_STATE: GoodState = {
  time: "2026-11-25 08:29:31.371652+00",
  restorePoint: "before_disaster",
  restorePointLsn: "0/1602A0F8",
  snapshot: GOOD,
  queries: {},
};
// Monotonic clock: the disaster committed at 10 s, the recovered data was verified at 12.764 s.
const DISASTER: Disaster = {
  xid: 767,
  time: "2026-11-25 08:29:31.444373+00",
  segment: "000000010000000000000016",
  rowsAffected: 60104,
  snapshot: AFTER_DELETE,
  committedAt: 10_000,
};
const PHASES = { barmanRecoverMs: 866, instanceStartUntilPromotedMs: 623, verificationMs: 90 };

const EARLIER: RtoHistoryEntry[] = [
  {
    runId: "run-1",
    at: "2026-11-23T08:00:00.000Z",
    barmanRecoverMs: 800,
    instanceStartUntilPromotedMs: 600,
    verificationMs: 100,
    recoveryMs: 1500,
    totalFromDisasterMs: 2700,
  },
  {
    runId: "run-2",
    at: "2026-11-24T08:00:00.000Z",
    barmanRecoverMs: 900,
    instanceStartUntilPromotedMs: 600,
    verificationMs: 100,
    recoveryMs: 1600,
    totalFromDisasterMs: 2800,
  },
];

function judge(
  over: {
    recovered?: TableSnapshot;
    objectives?: Partial<RecoveryObjectives>;
    history?: RtoHistoryEntry[];
    target?: Parameters<typeof judgeRecovery>[0]["target"];
  } = {},
) {
  const settings = readSettings({});
  return judgeRecovery({
    runId: "20261125-a2767c",
    plan: PLAN,
    settings: { ...settings, objectives: { ...settings.objectives, ...over.objectives } },
    versions: { postgres: "15.20", barman: "3.4.0" },
    backup: BACKUP,
    target: over.target ?? { kind: "time", time: GOOD_STATE.time },
    goodState: GOOD_STATE,
    disaster: DISASTER,
    recovered: over.recovered ?? GOOD,
    phases: PHASES,
    verifiedAt: 12_764,
    history: over.history ?? [],
    now: new Date("2026-11-25T08:29:40.000Z"),
  });
}

describe("judgeRecovery: a recovery of the good state within the objectives", () => {
  const { metrics, metricsText, trend, historyEntry, chartSvg } = judge();

  test("the metrics name the drill, server, backup and target", () => {
    expect(metrics).toMatchObject({
      schemaVersion: 1,
      runId: "20261125-a2767c",
      drill: "Scenario 12: accidental DELETE of all orders",
      server: "pg-primary",
      backupId: "20261125T082625",
      backupSizeBytes: 23375923,
      target: { kind: "time", value: "2026-11-25 08:29:31.371652+00" },
      goodStateTime: "2026-11-25 08:29:31.371652+00",
      disasterTime: "2026-11-25 08:29:31.444373+00",
      versions: { postgres: "15.20", barman: "3.4.0" },
    });
  });

  test("RTO: the phases, their sum, and the time from the disaster's commit to verification", () => {
    expect(metrics.phasesMs).toEqual(PHASES);
    expect(metrics.recoveryMs).toBe(1579);
    expect(metrics.totalFromDisasterMs).toBe(2764);
  });

  test("RPO: no rows lost in any table; the target is 0.073 s before the disaster", () => {
    expect(metrics.rpo).toEqual({ rowsLostBeforeDisaster: 0, rowsLostByTable: {}, secondsBetweenTargetAndDisaster: 0.073 });
  });

  test("verdict pass, no violations, judged against the settings' objectives", () => {
    expect(metrics.verdict).toBe("pass");
    expect(metrics.violations).toEqual([]);
    expect(metrics.objectives).toEqual(OBJECTIVE_DEFAULTS);
    expect(metricsText.split("\n")).toContain("Verdict: PASS");
    expect(metricsText.split("\n")).toContain("Drill: Scenario 12: accidental DELETE of all orders");
  });

  test("the history entry is this run's phases at the given time", () => {
    expect(historyEntry).toEqual({
      runId: "20261125-a2767c",
      at: "2026-11-25T08:29:40.000Z",
      barmanRecoverMs: 866,
      instanceStartUntilPromotedMs: 623,
      verificationMs: 90,
      recoveryMs: 1579,
      totalFromDisasterMs: 2764,
      platform: "pg15-barman3.4",
      versions: { postgres: "15.20", barman: "3.4.0" },
    });
  });

  test("the trend compares with runs of the same pair only (entries without a pair are PostgreSQL 15 + Barman 3.4)", () => {
    const earlier = (platform: string | undefined, recoveryMs: number) => ({ ...historyEntry, runId: `r-${recoveryMs}`, recoveryMs, platform });
    const judged = judge({ history: [earlier("pg18-barman3.20", 100), earlier(undefined, 1579), earlier("pg15-barman3.4", 1579)] });
    expect(judged.trend.baselineRuns).toBe(2);
    expect(judged.trend.medianRecoveryMs).toBe(1579);
  });

  test("without earlier runs there is no trend", () => {
    expect(trend).toMatchObject({ baselineRuns: 0, regression: false, message: "no earlier runs to compare with" });
  });

  test("the chart is an SVG with this run's three phase bars", () => {
    expect(chartSvg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(chartSvg.endsWith("</svg>")).toBe(true);
    expect(chartSvg.match(/<rect class="phase"/g)).toHaveLength(3);
    expect(chartSvg).toContain("<title>20261125-a2767c barman recover: 0.866 s</title>");
  });
});

describe("judgeRecovery: a recovery that lost the orders", () => {
  const { metrics, metricsText } = judge({ recovered: AFTER_DELETE });

  test("RPO counts the rows lost, per table", () => {
    expect(metrics.rpo.rowsLostByTable).toEqual({ orders: 60104 });
    expect(metrics.rpo.rowsLostBeforeDisaster).toBe(60104);
  });

  test("verdict fail, the violation naming the objective", () => {
    expect(metrics.verdict).toBe("fail");
    expect(metrics.violations).toEqual([
      "RPO: 60104 rows written before the disaster were not recovered, budget 0 (objectives.rpoRows in the configuration, or PGDRILL_RPO_ROWS)",
    ]);
    expect(metricsText.split("\n")).toContain("Verdict: FAIL");
  });

  test("a table dropped on the recovered instance loses all its rows", () => {
    expect(judge({ recovered: { users: GOOD["users"]!, orders: null } }).metrics.rpo.rowsLostByTable).toEqual({ orders: 60104 });
  });
});

describe("judgeRecovery: objectives and trend from the settings", () => {
  test("rtoTotalS 0.001 fails the total, naming objectives.rtoTotalS and the largest phase", () => {
    const { metrics } = judge({ objectives: { rtoTotalS: 0.001 } });
    expect(metrics.verdict).toBe("fail");
    expect(metrics.objectives.rtoTotalS).toBe(0.001);
    expect(metrics.violations).toEqual([
      "RTO total 2.76 s from the disaster is over its budget of 0.001 s (objectives.rtoTotalS in the configuration, or PGDRILL_RTO_TOTAL_S); the largest phase is archiving and preparation before the recovery with 1.19 s",
    ]);
  });

  test("earlier runs give a trend against their median, and the chart draws them before this run", () => {
    const { trend, chartSvg } = judge({ history: EARLIER });
    expect(trend).toMatchObject({ baselineRuns: 2, medianRecoveryMs: 1550, regression: false });
    expect(trend.message).toBe("recovery 1.58 s vs median 1.55 s of the last 2 run(s): +2%");
    expect(chartSvg.match(/<rect class="phase"/g)).toHaveLength(9);
    expect(chartSvg.indexOf("run-1 barman recover")).toBeLessThan(chartSvg.indexOf("20261125-a2767c barman recover"));
  });

  test.each<[string, Parameters<typeof judgeRecovery>[0]["target"], string]>([
    ["name", { kind: "name", name: "before_disaster" }, "before_disaster"],
    ["xid", { kind: "xid", xid: 767, exclusive: true }, "767"],
    ["lsn", { kind: "lsn", lsn: "0/1602A0F8", exclusive: false }, "0/1602A0F8"],
    ["immediate", { kind: "immediate" }, "immediate"],
    ["latest", { kind: "latest" }, "latest"],
  ])("a %s target is recorded with its own value", (kind, target, value) => {
    expect(judge({ target }).metrics.target).toEqual({ kind, value });
  });
});

describe("incidentReportFor", () => {
  const discoveredAt = "2026-11-25 08:29:32.100000+00";

  test("the DELETE of all orders: the drill, the rows lost per table, the changed table, the timeline", () => {
    const lines = incidentReportFor({ plan: PLAN, goodState: GOOD_STATE, disaster: DISASTER, discoveredAt }).split("\n");
    expect(lines).toContain("Incident:        Scenario 12: accidental DELETE of all orders");
    expect(lines).toContain("Discovery time:  2026-11-25 08:29:32.100000+00 (server clock)");
    expect(lines).toContain("Impact:          60,104 rows of orders (transaction 767)");
    expect(lines).toContain("Tables changed:  orders");
    expect(lines).toContain("- Good state: 2026-11-25 08:29:31.371652+00 (restore point 'before_disaster' created)");
    expect(lines).toContain("- Disaster:   2026-11-25 08:29:31.444373+00 (committed)");
  });

  test("a DROP TABLE: the dropped table's rows are lost", () => {
    const disaster = { ...DISASTER, snapshot: { users: GOOD["users"]!, orders: null } };
    expect(incidentReportFor({ plan: PLAN, goodState: GOOD_STATE, disaster, discoveredAt }).split("\n")).toContain(
      "Impact:          60,104 rows of orders (transaction 767)",
    );
  });

  test("an UPDATE that lost no rows: the changed tables' content", () => {
    const disaster = { ...DISASTER, snapshot: { users: { rows: 1000, checksum: "users-9" }, orders: GOOD["orders"]! } };
    const lines = incidentReportFor({ plan: { name: "Mass UPDATE of users" }, goodState: GOOD_STATE, disaster, discoveredAt }).split("\n");
    expect(lines).toContain("Incident:        Mass UPDATE of users");
    expect(lines).toContain("Impact:          content of users changed (transaction 767)");
    expect(lines).toContain("Tables changed:  users");
  });
});
