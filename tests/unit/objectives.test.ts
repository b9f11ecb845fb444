import { describe, expect, test } from "vitest";
import { OBJECTIVE_DEFAULTS, OBJECTIVE_ENV, type RecoveryObjectives } from "../../src/drill/config.ts";
import type { RecoveryMetrics } from "../../src/drill/metrics.ts";
import { evaluateObjectives } from "../../src/drill/objectives.ts";
import { seconds } from "../../src/support/measure.ts";

type Measured = Pick<RecoveryMetrics, "phasesMs" | "recoveryMs" | "totalFromDisasterMs" | "rpo">;

const DEFAULTS: RecoveryObjectives = { ...OBJECTIVE_DEFAULTS };

/** Comfortably within the default objectives (8 / 10 / 30 / 240 s, 0 rows, 60 s). */
function measured(over: { barman?: number; start?: number; verification?: number; total?: number; rows?: number; rpoS?: number } = {}): Measured {
  const phasesMs = {
    barmanRecoverMs: over.barman ?? 5_000,
    instanceStartUntilPromotedMs: over.start ?? 6_000,
    verificationMs: over.verification ?? 20_000,
  };
  const recoveryMs = phasesMs.barmanRecoverMs + phasesMs.instanceStartUntilPromotedMs + phasesMs.verificationMs;
  return {
    phasesMs,
    recoveryMs,
    totalFromDisasterMs: over.total ?? 100_000,
    rpo: {
      rowsLostBeforeDisaster: over.rows ?? 0,
      rowsLostByTable: (over.rows ?? 0) > 0 ? { orders: over.rows! } : {},
      secondsBetweenTargetAndDisaster: over.rpoS ?? 0.093,
    },
  };
}

describe("evaluateObjectives: within the objectives", () => {
  test("no violation when every figure is within its objective", () => {
    expect(evaluateObjectives(measured(), DEFAULTS)).toEqual([]);
  });

  test("the real drill run of 20261125-a2767c passes the defaults", () => {
    const real: Measured = {
      phasesMs: { barmanRecoverMs: 865.9727159999993, instanceStartUntilPromotedMs: 622.6940419999992, verificationMs: 89.78217100000074 },
      recoveryMs: 1578.4489289999992,
      totalFromDisasterMs: 2764.3890579999997,
      rpo: { rowsLostBeforeDisaster: 0, rowsLostByTable: {}, secondsBetweenTargetAndDisaster: 0.093 },
    };
    expect(evaluateObjectives(real, DEFAULTS)).toEqual([]);
  });

  test("every figure exactly at its objective is not a violation", () => {
    const atBudget = measured({ barman: 8_000, start: 10_000, verification: 30_000, total: 240_000, rows: 0, rpoS: 60 });
    expect(evaluateObjectives(atBudget, DEFAULTS)).toEqual([]);
  });

  test("fractional budgets: exactly at 2.5 s passes, 1 ms more fails", () => {
    const objectives = { ...DEFAULTS, rtoBarmanRecoverS: 2.5 };
    expect(evaluateObjectives(measured({ barman: 2_500 }), objectives)).toEqual([]);
    expect(evaluateObjectives(measured({ barman: 2_501 }), objectives).map((v) => v.objective)).toEqual(["rtoBarmanRecoverS"]);
  });

  test("a recovery target after the disaster and extra rows recovered are not RPO violations", () => {
    expect(evaluateObjectives(measured({ rows: -2, rpoS: -60 }), DEFAULTS)).toEqual([]);
  });
});

describe("evaluateObjectives: one phase over its budget", () => {
  test.each([
    ["barman recover", { barman: 8_500 }, "rtoBarmanRecoverS", "8.50 s", 8, "PGDRILL_RTO_BARMAN_RECOVER_S"],
    ["instance start until promoted", { start: 12_345 }, "rtoInstanceStartS", "12.35 s", 10, "PGDRILL_RTO_INSTANCE_START_S"],
    ["verification", { verification: 30_001 }, "rtoVerificationS", "30.00 s", 30, "PGDRILL_RTO_VERIFICATION_S"],
  ] as const)("'%s' over its budget gives exactly its message", (name, over, objective, took, budget, variable) => {
    const violations = evaluateObjectives(measured(over), DEFAULTS);
    expect(violations).toEqual([
      { objective, message: `RTO phase '${name}' took ${took}, over its budget of ${budget} s (objectives.${objective} in the configuration, or ${variable})` },
    ]);
    // The message is built from seconds() and OBJECTIVE_ENV, not from copies of them.
    const ms = Object.values(over)[0]!;
    expect(violations[0]!.message).toContain(`took ${seconds(ms)},`);
    expect(violations[0]!.message).toContain(`(objectives.${objective} in the configuration, or ${OBJECTIVE_ENV[objective]})`);
  });

  test("the budget in the message is the configured one, not the default", () => {
    const objectives = { ...DEFAULTS, rtoInstanceStartS: 2.5 };
    expect(evaluateObjectives(measured({ start: 3_000 }), objectives)).toEqual([
      {
        objective: "rtoInstanceStartS",
        message:
          "RTO phase 'instance start until promoted' took 3.00 s, over its budget of 2.5 s (objectives.rtoInstanceStartS in the configuration, or PGDRILL_RTO_INSTANCE_START_S)",
      },
    ]);
  });

  test("a raised budget turns a violation into a pass", () => {
    expect(evaluateObjectives(measured({ verification: 45_000 }), DEFAULTS)).toHaveLength(1);
    expect(evaluateObjectives(measured({ verification: 45_000 }), { ...DEFAULTS, rtoVerificationS: 45 })).toEqual([]);
  });
});

describe("evaluateObjectives: total RTO", () => {
  // Generous phase budgets so that only the total is judged.
  const totalOnly: RecoveryObjectives = { ...DEFAULTS, rtoBarmanRecoverS: 1_000, rtoInstanceStartS: 1_000, rtoVerificationS: 1_000, rtoTotalS: 30 };

  test("exactly at the total budget is not a violation", () => {
    expect(evaluateObjectives(measured({ total: 30_000, barman: 1_000, start: 1_000, verification: 1_000 }), totalOnly)).toEqual([]);
  });

  test.each([
    ["barman recover", { barman: 20_000, start: 6_000, verification: 4_000, total: 35_000 }, "35.00 s", "20.00 s"],
    ["instance start until promoted", { barman: 5_000, start: 21_500, verification: 4_000, total: 31_000 }, "31.00 s", "21.50 s"],
    ["verification", { barman: 5_000, start: 6_000, verification: 20_000, total: 40_000 }, "40.00 s", "20.00 s"],
    // recoveryMs = 5 + 6 + 7 = 18 s; total 60 s leaves 42 s before the recovery.
    ["archiving and preparation before the recovery", { barman: 5_000, start: 6_000, verification: 7_000, total: 60_000 }, "60.00 s", "42.00 s"],
  ])("over budget names the largest phase: %s", (largest, over, total, largestTime) => {
    expect(evaluateObjectives(measured(over), totalOnly)).toEqual([
      {
        objective: "rtoTotalS",
        message: `RTO total ${total} from the disaster is over its budget of 30 s (objectives.rtoTotalS in the configuration, or PGDRILL_RTO_TOTAL_S); the largest phase is ${largest} with ${largestTime}`,
      },
    ]);
  });

  test("the time before the recovery is the total minus recoveryMs as given", () => {
    const m: Measured = { ...measured({ barman: 1_000, start: 1_000, verification: 1_000, total: 31_000 }), recoveryMs: 2_000 };
    expect(evaluateObjectives(m, totalOnly)[0]!.message).toMatch(/the largest phase is archiving and preparation before the recovery with 29\.00 s$/);
  });

  test("on a tie the earlier phase is named", () => {
    const [violation] = evaluateObjectives(measured({ barman: 12_000, start: 12_000, verification: 3_000, total: 31_000 }), totalOnly);
    expect(violation!.message).toMatch(/the largest phase is barman recover with 12\.00 s$/);
  });

  test("with the default 240 s budget", () => {
    expect(evaluateObjectives(measured({ total: 240_001 }), DEFAULTS)).toEqual([
      {
        objective: "rtoTotalS",
        message:
          "RTO total 240.00 s from the disaster is over its budget of 240 s (objectives.rtoTotalS in the configuration, or PGDRILL_RTO_TOTAL_S); the largest phase is archiving and preparation before the recovery with 209.00 s",
      },
    ]);
  });
});

describe("evaluateObjectives: RPO", () => {
  test("rows lost over the budget", () => {
    expect(evaluateObjectives(measured({ rows: 3 }), DEFAULTS)).toEqual([
      {
        objective: "rpoRows",
        message: "RPO: 3 rows written before the disaster were not recovered, budget 0 (objectives.rpoRows in the configuration, or PGDRILL_RPO_ROWS)",
      },
    ]);
  });

  test("rows lost at the budget pass, one more fails", () => {
    const objectives = { ...DEFAULTS, rpoRows: 5 };
    expect(evaluateObjectives(measured({ rows: 5 }), objectives)).toEqual([]);
    expect(evaluateObjectives(measured({ rows: 6 }), objectives)).toEqual([
      {
        objective: "rpoRows",
        message: "RPO: 6 rows written before the disaster were not recovered, budget 5 (objectives.rpoRows in the configuration, or PGDRILL_RPO_ROWS)",
      },
    ]);
  });

  test("seconds between target and disaster over the budget, with three decimals", () => {
    expect(evaluateObjectives(measured({ rpoS: 60.5 }), DEFAULTS)).toEqual([
      {
        objective: "rpoSeconds",
        message:
          "RPO: the recovery target is 60.500 s before the disaster, over the budget of 60 s (objectives.rpoSeconds in the configuration, or PGDRILL_RPO_SECONDS)",
      },
    ]);
    expect(evaluateObjectives(measured({ rpoS: 1.23456 }), { ...DEFAULTS, rpoSeconds: 0.5 })).toEqual([
      {
        objective: "rpoSeconds",
        message:
          "RPO: the recovery target is 1.235 s before the disaster, over the budget of 0.5 s (objectives.rpoSeconds in the configuration, or PGDRILL_RPO_SECONDS)",
      },
    ]);
  });
});

describe("evaluateObjectives: several violations", () => {
  test("all six at once, in a fixed order: phases, total, rows, seconds", () => {
    const violations = evaluateObjectives(measured({ barman: 9_000, start: 11_000, verification: 31_000, total: 300_000, rows: 10, rpoS: 61 }), DEFAULTS);
    expect(violations.map((v) => v.objective)).toEqual(["rtoBarmanRecoverS", "rtoInstanceStartS", "rtoVerificationS", "rtoTotalS", "rpoRows", "rpoSeconds"]);
    expect(violations.map((v) => v.message)).toEqual([
      "RTO phase 'barman recover' took 9.00 s, over its budget of 8 s (objectives.rtoBarmanRecoverS in the configuration, or PGDRILL_RTO_BARMAN_RECOVER_S)",
      "RTO phase 'instance start until promoted' took 11.00 s, over its budget of 10 s (objectives.rtoInstanceStartS in the configuration, or PGDRILL_RTO_INSTANCE_START_S)",
      "RTO phase 'verification' took 31.00 s, over its budget of 30 s (objectives.rtoVerificationS in the configuration, or PGDRILL_RTO_VERIFICATION_S)",
      "RTO total 300.00 s from the disaster is over its budget of 240 s (objectives.rtoTotalS in the configuration, or PGDRILL_RTO_TOTAL_S); the largest phase is archiving and preparation before the recovery with 249.00 s",
      "RPO: 10 rows written before the disaster were not recovered, budget 0 (objectives.rpoRows in the configuration, or PGDRILL_RPO_ROWS)",
      "RPO: the recovery target is 61.000 s before the disaster, over the budget of 60 s (objectives.rpoSeconds in the configuration, or PGDRILL_RPO_SECONDS)",
    ]);
  });

  test("the order does not depend on which objectives are missed", () => {
    const violations = evaluateObjectives(measured({ verification: 31_000, rpoS: 61, barman: 9_000 }), DEFAULTS);
    expect(violations.map((v) => v.objective)).toEqual(["rtoBarmanRecoverS", "rtoVerificationS", "rpoSeconds"]);
  });

  test("a violation's objective names a variable in OBJECTIVE_ENV, and each message carries the config field and the variable", () => {
    const violations = evaluateObjectives(measured({ barman: 9_000, start: 11_000, verification: 31_000, total: 300_000, rows: 10, rpoS: 61 }), DEFAULTS);
    for (const v of violations) expect(v.message).toContain(`(objectives.${v.objective} in the configuration, or ${OBJECTIVE_ENV[v.objective]})`);
  });
});

// Bugs found while writing these tests; reported, not fixed. Marked `fails` while the bug is there.
describe("known bugs", () => {
  // The budget is compared as budgetS * 1000, and 1.005 * 1000 is 1004.9999999999999 in floating
  // point: a phase of exactly 1005 ms is reported as "took 1.00 s, over its budget of 1.005 s".
  test("fixed: a phase exactly at a budget of 1.005 s is not a violation", () => {
    expect(evaluateObjectives(measured({ barman: 1_005 }), { ...DEFAULTS, rtoBarmanRecoverS: 1.005 })).toEqual([]);
  });
});
