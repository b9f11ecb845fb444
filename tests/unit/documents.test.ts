import { describe, expect, test } from "vitest";
import { incidentReport, lessonsLearned, switchoverPlan } from "../../src/drill/documents.ts";
import { type RecoveryMetrics, renderMetricsText } from "../../src/drill/metrics.ts";
import { REAL_METRICS } from "./samples/real-metrics.ts";

// The real run's figures, with short versions and some rows lost so the documents show them.
const METRICS: RecoveryMetrics = {
  ...REAL_METRICS,
  versions: { postgres: "15.20", barman: "3.4.0" },
  phasesMs: { barmanRecoverMs: 865.97, instanceStartUntilPromotedMs: 622.69, verificationMs: 89.78 },
  recoveryMs: 1578.44,
  totalFromDisasterMs: 2764.39,
  rpo: { rowsLostBeforeDisaster: 3, rowsLostByTable: { orders: 3 }, secondsBetweenTargetAndDisaster: 0.093 },
};

describe("incidentReport", () => {
  const input = {
    drill: "Scenario 12: accidental DELETE of all orders",
    discoveredAt: "2026-11-25 08:36:27.100000+00",
    goodStateTime: "2026-11-25 08:36:25.933281+00",
    disasterTime: "2026-11-25 08:36:26.026415+00",
    disasterXid: 767,
    tablesChanged: ["orders"],
    rowsLostByTable: { orders: 12345 },
    restorePoint: "before_disaster",
  };
  const lines = incidentReport(input).split("\n");

  test("contains what was measured, thousands separated", () => {
    expect(lines).toContain("Incident:        Scenario 12: accidental DELETE of all orders");
    expect(lines).toContain("Discovery time:  2026-11-25 08:36:27.100000+00 (server clock)");
    expect(lines).toContain("Impact:          12,345 rows of orders (transaction 767)");
    expect(lines).toContain("Tables changed:  orders");
    expect(lines).toContain("- Good state: 2026-11-25 08:36:25.933281+00 (restore point 'before_disaster' created)");
    expect(lines).toContain("- Disaster:   2026-11-25 08:36:26.026415+00 (committed)");
    expect(lines).toContain("Recovery strategy: point-in-time recovery to 2026-11-25 08:36:25.933281+00");
  });

  test("titled", () => {
    expect(lines[1]).toBe("         PRODUCTION INCIDENT REPORT");
  });

  test("rows lost in several tables are listed table by table", () => {
    const text = incidentReport({ ...input, tablesChanged: ["orders", "sales.invoices"], rowsLostByTable: { orders: 60104, "sales.invoices": 2500 } });
    expect(text.split("\n")).toContain("Impact:          60,104 rows of orders, 2,500 rows of sales.invoices (transaction 767)");
    expect(text.split("\n")).toContain("Tables changed:  orders, sales.invoices");
  });

  test("a disaster that lost no rows (an UPDATE) names the tables whose content changed", () => {
    const text = incidentReport({ ...input, rowsLostByTable: {}, tablesChanged: ["orders", "users"] });
    expect(text.split("\n")).toContain("Impact:          content of orders, users changed (transaction 767)");
  });

  test("a disaster that changed no configured table says so", () => {
    const text = incidentReport({ ...input, rowsLostByTable: {}, tablesChanged: [] }).split("\n");
    expect(text).toContain("Impact:          content of no configured table changed (transaction 767)");
    expect(text).toContain("Tables changed:  none");
  });
});

describe("switchoverPlan", () => {
  const text = switchoverPlan({ recoveredHost: "pg-recovered-1", recoveredTimeline: 2, primaryHost: "pg-primary", metrics: METRICS });

  test("names the hosts, the new timeline and the measured durations", () => {
    expect(text).toContain("  recovered instance 'pg-recovered-1' is promoted (timeline 2) and accepts writes;");
    expect(text).toContain("  recovery took 1.58 s, 2.76 s from the disaster.");
    expect(text).toContain("1. STOP PRIMARY 'pg-primary' (disaster state)");
    expect(text).toContain("3. UPDATE CONNECTION STRINGS: point applications (or DNS / VIP) at 'pg-recovered-1'.");
    expect(text).toContain("rebuild it as a standby of 'pg-recovered-1'.");
  });

  test("eight numbered steps, in order", () => {
    const steps = text
      .split("\n")
      .filter((l) => /^\d+\. /.test(l))
      .map((l) => Number(l.split(".")[0]));
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe("lessonsLearned", () => {
  const text = lessonsLearned({ metrics: METRICS, walSegmentsArchived: "000000010000000000000017" });

  test("restates the measured backup, WAL, target, RPO and RTO", () => {
    const lines = text.split("\n");
    expect(lines).toContain("- Barman held the base backup 20261125T083624 and every WAL segment up to 000000010000000000000017.");
    expect(lines).toContain(
      "- PITR to time 2026-11-25 08:36:25.933281+00 gave back the state before the disaster (Scenario 12: accidental DELETE of all orders): 3 rows written before it were lost.",
    );
    expect(lines).toContain("- Recovery took 1.58 s (barman recover 0.87 s, start until promoted 0.62 s, verification 0.09 s).");
    expect(lines).toContain("- 2.76 s from the disaster to a verified instance, with no person in the loop.");
  });

  test("other measurements give other text", () => {
    const other = lessonsLearned({
      metrics: {
        ...METRICS,
        drill: "Nightly: DROP TABLE sales.invoices",
        backupId: "20261126T000000",
        recoveryMs: 90_000,
        rpo: { rowsLostBeforeDisaster: 0, rowsLostByTable: {}, secondsBetweenTargetAndDisaster: 1 },
      },
      walSegmentsArchived: "00000001000000000000002A",
    });
    expect(other).toContain("base backup 20261126T000000 and every WAL segment up to 00000001000000000000002A.");
    expect(other).toContain("- Recovery took 90.00 s (");
    expect(other).toContain(" gave back the state before the disaster (Nightly: DROP TABLE sales.invoices): 0 rows written before it were lost.");
    expect(other).not.toContain("20261125T083624");
  });
});

describe("recovery metrics document", () => {
  test("shows the rows lost", () => {
    expect(renderMetricsText(METRICS)).toContain("  Rows lost before the disaster:    3");
  });
});
