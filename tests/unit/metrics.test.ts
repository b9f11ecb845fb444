import { describe, expect, test } from "vitest";
import { computeRpo, recoveryDuration, renderMetricsText } from "../../src/drill/metrics.ts";
import { monotonicNow, seconds } from "../../src/support/measure.ts";
import { REAL_METRICS } from "./samples/real-metrics.ts";

describe("recoveryDuration", () => {
  test("sum of the three phases", () => {
    expect(recoveryDuration({ barmanRecoverMs: 1000, instanceStartUntilPromotedMs: 250, verificationMs: 5 })).toBe(1255);
    expect(recoveryDuration({ barmanRecoverMs: 0, instanceStartUntilPromotedMs: 0, verificationMs: 0 })).toBe(0);
    expect(recoveryDuration(REAL_METRICS.phasesMs)).toBeCloseTo(1578.448929, 6);
  });

  test.each([
    ["barmanRecoverMs", -1, "phase barmanRecoverMs has no valid duration (-1)"],
    ["instanceStartUntilPromotedMs", Number.NaN, "phase instanceStartUntilPromotedMs has no valid duration (NaN)"],
    ["verificationMs", Number.POSITIVE_INFINITY, "phase verificationMs has no valid duration (Infinity)"],
    ["verificationMs", -0.001, "phase verificationMs has no valid duration (-0.001)"],
  ] as const)("%s = %s -> throws", (phase, ms, message) => {
    const phases = { barmanRecoverMs: 10, instanceStartUntilPromotedMs: 20, verificationMs: 30, [phase]: ms };
    expect(() => recoveryDuration(phases)).toThrow(message);
  });
});

describe("computeRpo", () => {
  test("rows lost summed over the tables and seconds between target and disaster", () => {
    expect(
      computeRpo({
        rowsLostByTable: { orders: 7, users: 3 },
        targetTime: new Date(Date.UTC(2026, 10, 25, 8, 29, 31, 371)),
        disasterTime: new Date(Date.UTC(2026, 10, 25, 8, 29, 31, 444)),
      }),
    ).toEqual({ rowsLostBeforeDisaster: 10, rowsLostByTable: { orders: 7, users: 3 }, secondsBetweenTargetAndDisaster: 0.073 });
  });

  test("a perfect recovery loses no rows", () => {
    const rpo = computeRpo({
      rowsLostByTable: {},
      targetTime: new Date("2026-11-25T08:36:25.933Z"),
      disasterTime: new Date("2026-11-25T08:36:26.026Z"),
    });
    expect(rpo).toEqual({ rowsLostBeforeDisaster: 0, rowsLostByTable: {}, secondsBetweenTargetAndDisaster: 0.093 });
  });

  test("a target after the disaster gives negative seconds", () => {
    expect(computeRpo({ rowsLostByTable: {}, targetTime: new Date(60_000), disasterTime: new Date(0) })).toEqual({
      rowsLostBeforeDisaster: 0,
      rowsLostByTable: {},
      secondsBetweenTargetAndDisaster: -60,
    });
  });
});

describe("seconds", () => {
  test.each([
    [0, "0.00 s"],
    [1578.4489289999992, "1.58 s"],
    [89.78, "0.09 s"],
    [125_000, "125.00 s"],
  ])("%s ms -> %s", (ms, text) => {
    expect(seconds(ms)).toBe(text);
  });
});

describe("monotonicNow", () => {
  test("never goes backwards", () => {
    const a = monotonicNow();
    const b = monotonicNow();
    expect(b).toBeGreaterThanOrEqual(a);
  });
});

describe("renderMetricsText", () => {
  const text = renderMetricsText(REAL_METRICS);
  const lines = text.split("\n");

  test("carries every measured figure, formatted", () => {
    expect(lines).toContain("Drill: Scenario 12: accidental DELETE of all orders");
    expect(lines).toContain("  Good state time:                  2026-11-25 08:36:25.933281+00");
    expect(lines).toContain("  Disaster time:                    2026-11-25 08:36:26.026415+00");
    expect(lines).toContain("  Server / backup:                  pg-primary / 20261125T083624 (35.7 MiB)");
    expect(lines).toContain("  Recovery target:                  time 2026-11-25 08:36:25.933281+00");
    expect(lines).toContain(
      "  Versions:                         PostgreSQL 15.20 (Debian 15.20-0+deb12u1), 3.4.0 Barman by EnterpriseDB (www.enterprisedb.com) (pg15-barman3.4)",
    );
    expect(lines).toContain("  1. barman recover:                0.87 s");
    expect(lines).toContain("  2. instance start until promoted: 0.62 s");
    expect(lines).toContain("  3. verification:                  0.09 s");
    expect(lines).toContain("  Recovery (1+2+3):                 1.58 s");
    expect(lines).toContain("  Total RTO from the disaster:      2.76 s");
    expect(lines).toContain("  Rows lost before the disaster:    0");
    expect(lines).toContain("  Target to disaster (server):      0.093 s");
  });

  test("values start in one column (labels padded to 34 characters)", () => {
    const valueLines = lines.filter((l) => /^ {2}\S.*:\s/.test(l));
    expect(valueLines.length).toBeGreaterThanOrEqual(12);
    for (const line of valueLines) expect(line.slice(2, 36)).toMatch(/:\s*$/);
  });

  test("framed by the banner", () => {
    expect(lines[0]).toBe("=================================================");
    expect(lines[1]).toBe("         POINT-IN-TIME RECOVERY METRICS");
    expect(lines.at(-1)).toBe("=================================================");
  });

  test("other figures appear as given", () => {
    const other = renderMetricsText({
      ...REAL_METRICS,
      backupSizeBytes: 1048576 * 512,
      rpo: { rowsLostBeforeDisaster: 42, rowsLostByTable: { orders: 42 }, secondsBetweenTargetAndDisaster: 12.3456 },
      recoveryMs: 61_234,
      target: { kind: "name", value: "before_disaster" },
    });
    expect(other).toContain("(512.0 MiB)");
    expect(other).toContain("Rows lost before the disaster:    42\n");
    expect(other).toContain("Target to disaster (server):      12.346 s");
    expect(other).toContain("Recovery (1+2+3):                 61.23 s");
    expect(other).toContain("Recovery target:                  name before_disaster");
  });

  test("a passing run shows its objectives and the verdict PASS, without violation lines", () => {
    expect(lines).toContain("Objectives (RTO s / RPO): recover 8, start 10, verification 30, total 240; rows 0, 60 s");
    const verdict = lines.indexOf("Verdict: PASS");
    expect(verdict).toBeGreaterThan(lines.indexOf("Objectives (RTO s / RPO): recover 8, start 10, verification 30, total 240; rows 0, 60 s"));
    expect(lines[verdict + 1]).toBe("=================================================");
    expect(verdict).toBe(lines.length - 2);
    expect(text).not.toContain("FAIL");
    expect(lines.filter((l) => l.startsWith("  - "))).toEqual([]);
  });

  test("the objectives line carries the configured objectives", () => {
    const other = renderMetricsText({
      ...REAL_METRICS,
      objectives: { rtoBarmanRecoverS: 2.5, rtoInstanceStartS: 4, rtoVerificationS: 12, rtoTotalS: 90, rpoRows: 3, rpoSeconds: 0.5 },
    });
    expect(other.split("\n")).toContain("Objectives (RTO s / RPO): recover 2.5, start 4, verification 12, total 90; rows 3, 0.5 s");
  });

  test("a failing run shows the verdict FAIL followed by one line per violation, in order", () => {
    const violations = [
      "RTO phase 'barman recover' took 9.00 s, over its budget of 8 s (PGDRILL_RTO_BARMAN_RECOVER_S)",
      "RPO: 3 rows written before the disaster were not recovered, budget 0 (PGDRILL_RPO_ROWS)",
    ];
    const failed = renderMetricsText({ ...REAL_METRICS, violations, verdict: "fail" }).split("\n");
    const verdict = failed.indexOf("Verdict: FAIL");
    expect(verdict).toBeGreaterThan(0);
    expect(failed.slice(verdict)).toEqual([
      "Verdict: FAIL",
      "  - RTO phase 'barman recover' took 9.00 s, over its budget of 8 s (PGDRILL_RTO_BARMAN_RECOVER_S)",
      "  - RPO: 3 rows written before the disaster were not recovered, budget 0 (PGDRILL_RPO_ROWS)",
      "=================================================",
    ]);
    expect(failed).not.toContain("Verdict: PASS");
  });

  test("the verdict is printed as given, upper-cased", () => {
    const failedWithoutDetail = renderMetricsText({ ...REAL_METRICS, violations: [], verdict: "fail" }).split("\n");
    expect(failedWithoutDetail.slice(-2)).toEqual(["Verdict: FAIL", "================================================="]);
  });
});
