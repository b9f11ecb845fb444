import { describe, expect, test } from "vitest";
import {
  BUDGET_DEFAULTS_S,
  type BudgetName,
  budgetEnvName,
  OBJECTIVE_DEFAULTS,
  OBJECTIVE_ENV,
  type RecoveryObjectives,
  readSettings,
  SettingsError,
} from "../../src/drill/config.ts";

const DEFAULT_BUDGETS_MS = {
  containerStart: 120_000,
  walStreamingReady: 60_000,
  backup: 300_000,
  walArchived: 60_000,
  recover: 600_000,
  recoveredInstancePromoted: 300_000,
  containerRemoved: 60_000,
  serviceReady: 15_000,
  sqlStatement: 120_000,
  integrityCheck: 1_800_000,
  workloadCommit: 10_000,
  workloadCommitted: 60_000,
  outageDetected: 30_000,
  synchronousStreaming: 60_000,
};

// Written out by hand: the seed drill's figures, documented defaults.
const DEFAULT_OBJECTIVES = {
  rtoBarmanRecoverS: 8,
  rtoInstanceStartS: 10,
  rtoVerificationS: 30,
  rtoTotalS: 240,
  rpoRows: 0,
  rpoSeconds: 60,
};

/** Runs readSettings and returns the SettingsError it must throw. */
function settingsError(env: NodeJS.ProcessEnv): SettingsError {
  try {
    readSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsError);
    return error as SettingsError;
  }
  throw new Error(`readSettings accepted ${JSON.stringify(env)}`);
}

describe("budgetEnvName", () => {
  // Written out by hand: these are the names users type, so they must not drift.
  test.each<[BudgetName, string]>([
    ["containerStart", "PGDRILL_BUDGET_CONTAINER_START_S"],
    ["walStreamingReady", "PGDRILL_BUDGET_WAL_STREAMING_READY_S"],
    ["backup", "PGDRILL_BUDGET_BACKUP_S"],
    ["walArchived", "PGDRILL_BUDGET_WAL_ARCHIVED_S"],
    ["recover", "PGDRILL_BUDGET_RECOVER_S"],
    ["recoveredInstancePromoted", "PGDRILL_BUDGET_RECOVERED_INSTANCE_PROMOTED_S"],
    ["containerRemoved", "PGDRILL_BUDGET_CONTAINER_REMOVED_S"],
    ["serviceReady", "PGDRILL_BUDGET_SERVICE_READY_S"],
    ["sqlStatement", "PGDRILL_BUDGET_SQL_STATEMENT_S"],
    ["integrityCheck", "PGDRILL_BUDGET_INTEGRITY_CHECK_S"],
    ["workloadCommit", "PGDRILL_BUDGET_WORKLOAD_COMMIT_S"],
    ["workloadCommitted", "PGDRILL_BUDGET_WORKLOAD_COMMITTED_S"],
    ["outageDetected", "PGDRILL_BUDGET_OUTAGE_DETECTED_S"],
    ["synchronousStreaming", "PGDRILL_BUDGET_SYNCHRONOUS_STREAMING_S"],
  ])("%s -> %s", (name, variable) => {
    expect(budgetEnvName(name)).toBe(variable);
  });

  test("the table above covers every budget", () => {
    expect(Object.keys(BUDGET_DEFAULTS_S).sort()).toEqual(Object.keys(DEFAULT_BUDGETS_MS).sort());
  });
});

describe("readSettings: defaults", () => {
  test("an empty environment gives the default budgets in ms, keep off, no base image, no target-kind override, default objectives and trend", () => {
    expect(readSettings({})).toEqual({
      budgetsMs: DEFAULT_BUDGETS_MS,
      keepResources: false,
      baseImage: undefined,
      recoveryImage: undefined,
      targetKinds: undefined,
      objectives: DEFAULT_OBJECTIVES,
      trend: { window: 10, allowedShare: 0.5, failOnRegression: false },
    });
  });

  test("unrelated variables are ignored", () => {
    expect(readSettings({ PATH: "/usr/bin", PGDRILL_OTHER: "x", PGDRILL_BUDGET: "5" }).budgetsMs).toEqual(DEFAULT_BUDGETS_MS);
  });

  test("PGDRILL_BUDGET_ENGINE_START_S (read by scripts/setup.sh) is known, not an error", () => {
    expect(readSettings({ PGDRILL_BUDGET_ENGINE_START_S: "90" }).budgetsMs).toEqual(DEFAULT_BUDGETS_MS);
  });
});

describe("readSettings: budget overrides", () => {
  test.each<[string, BudgetName]>([
    ["PGDRILL_BUDGET_CONTAINER_START_S", "containerStart"],
    ["PGDRILL_BUDGET_WAL_STREAMING_READY_S", "walStreamingReady"],
    ["PGDRILL_BUDGET_BACKUP_S", "backup"],
    ["PGDRILL_BUDGET_WAL_ARCHIVED_S", "walArchived"],
    ["PGDRILL_BUDGET_RECOVER_S", "recover"],
    ["PGDRILL_BUDGET_RECOVERED_INSTANCE_PROMOTED_S", "recoveredInstancePromoted"],
    ["PGDRILL_BUDGET_SQL_STATEMENT_S", "sqlStatement"],
  ])("%s overrides only %s", (variable, name) => {
    const { budgetsMs } = readSettings({ [variable]: "7" });
    expect(budgetsMs).toEqual({ ...DEFAULT_BUDGETS_MS, [name]: 7_000 });
  });

  test("fractional seconds become whole milliseconds", () => {
    expect(readSettings({ PGDRILL_BUDGET_BACKUP_S: "2.5" }).budgetsMs.backup).toBe(2_500);
    expect(readSettings({ PGDRILL_BUDGET_BACKUP_S: "0.0016" }).budgetsMs.backup).toBe(2);
  });

  test("the upper bound 86400 s is accepted", () => {
    expect(readSettings({ PGDRILL_BUDGET_RECOVER_S: "86400" }).budgetsMs.recover).toBe(86_400_000);
  });

  test("several overrides at once", () => {
    const { budgetsMs } = readSettings({ PGDRILL_BUDGET_RECOVER_S: "1200", PGDRILL_BUDGET_SQL_STATEMENT_S: "15" });
    expect(budgetsMs.recover).toBe(1_200_000);
    expect(budgetsMs.sqlStatement).toBe(15_000);
    expect(budgetsMs.backup).toBe(300_000);
  });
});

describe("readSettings: invalid budgets", () => {
  test.each([
    ["-5", "must be a positive number of seconds"],
    ["0", "must be a positive number of seconds"],
    ["", "must be a positive number of seconds"],
    ["abc", "must be a number of seconds"],
    ["Infinity", "must be a number of seconds"],
    ["86401", "must be at most 86400 seconds (24 h)"],
  ])("PGDRILL_BUDGET_BACKUP_S=%j is rejected: %s", (value, reason) => {
    const error = settingsError({ PGDRILL_BUDGET_BACKUP_S: value });
    expect(error.problems).toEqual([`PGDRILL_BUDGET_BACKUP_S=${JSON.stringify(value)}: ${reason}`]);
    expect(error.message).toBe(`Invalid drill settings:\n  - PGDRILL_BUDGET_BACKUP_S=${JSON.stringify(value)}: ${reason}`);
    expect(error.name).toBe("SettingsError");
  });

  test("an unknown PGDRILL_BUDGET_ variable is named with the list of known ones", () => {
    const error = settingsError({ PGDRILL_BUDGET_BACKUPS_S: "30" });
    expect(error.problems).toEqual([
      "PGDRILL_BUDGET_BACKUPS_S: unknown time budget; known budgets: " +
        [
          "PGDRILL_BUDGET_BACKUP_S",
          "PGDRILL_BUDGET_CONTAINER_REMOVED_S",
          "PGDRILL_BUDGET_CONTAINER_START_S",
          "PGDRILL_BUDGET_ENGINE_START_S",
          "PGDRILL_BUDGET_INTEGRITY_CHECK_S",
          "PGDRILL_BUDGET_OUTAGE_DETECTED_S",
          "PGDRILL_BUDGET_RECOVERED_INSTANCE_PROMOTED_S",
          "PGDRILL_BUDGET_RECOVER_S",
          "PGDRILL_BUDGET_SERVICE_READY_S",
          "PGDRILL_BUDGET_SQL_STATEMENT_S",
          "PGDRILL_BUDGET_SYNCHRONOUS_STREAMING_S",
          "PGDRILL_BUDGET_WAL_ARCHIVED_S",
          "PGDRILL_BUDGET_WAL_STREAMING_READY_S",
          "PGDRILL_BUDGET_WORKLOAD_COMMITTED_S",
          "PGDRILL_BUDGET_WORKLOAD_COMMIT_S",
        ].join(", "),
    ]);
  });

  test("a budget variable is matched exactly (case matters)", () => {
    expect(settingsError({ PGDRILL_BUDGET_backup_S: "30" }).problems[0]).toMatch(/^PGDRILL_BUDGET_backup_S: unknown time budget;/);
  });
});

describe("readSettings: PGDRILL_KEEP", () => {
  test.each([
    ["1", true],
    ["true", true],
    ["yes", true],
    ["0", false],
    ["false", false],
    ["no", false],
    ["", false],
  ])("PGDRILL_KEEP=%j -> %s", (value, expected) => {
    expect(readSettings({ PGDRILL_KEEP: value }).keepResources).toBe(expected);
  });

  test.each(["TRUE", "on", "2", "y"])("PGDRILL_KEEP=%j is rejected", (value) => {
    expect(settingsError({ PGDRILL_KEEP: value }).problems).toEqual([`PGDRILL_KEEP=${JSON.stringify(value)}: allowed: 1, 0, true, false, yes, no`]);
  });
});

describe("readSettings: PGDRILL_BASE_IMAGE", () => {
  test.each([
    "debian:bookworm-slim",
    "debian",
    "debian:12",
    "library/debian:bookworm",
    "localhost:5000/debian:bookworm",
    "registry.example.com/team/debian-base:bookworm-0a1b2c3d4e5f",
    `debian@sha256:${"0123456789abcdef".repeat(4)}`,
    `debian:bookworm@sha256:${"a".repeat(64)}`,
    "debian:{suite}-slim",
    "registry.example.com/{suite}/base:1",
  ])("%s is accepted as is", (image) => {
    expect(readSettings({ PGDRILL_BASE_IMAGE: image }).baseImage).toBe(image);
  });

  test("PGDRILL_RECOVERY_IMAGE takes an image reference and refuses anything else", () => {
    expect(readSettings({ PGDRILL_RECOVERY_IMAGE: "postgres:16" }).recoveryImage).toBe("postgres:16");
    expect(settingsError({ PGDRILL_RECOVERY_IMAGE: "postgres 16" }).problems).toEqual([
      'PGDRILL_RECOVERY_IMAGE="postgres 16": must be a Docker image reference such as debian:bookworm-slim',
    ]);
  });

  test("an empty value means no base image (build one)", () => {
    expect(readSettings({ PGDRILL_BASE_IMAGE: "" }).baseImage).toBeUndefined();
  });

  test.each([
    "Debian:bookworm",
    "debian:",
    "debian bookworm",
    ":bookworm",
    "debian:bookworm:slim",
    "-debian",
    `debian@sha256:${"a".repeat(63)}`,
    "debian@md5:abc",
    "debian:{suite}:slim",
  ])("%j is rejected", (image) => {
    expect(settingsError({ PGDRILL_BASE_IMAGE: image }).problems).toEqual([
      `PGDRILL_BASE_IMAGE=${JSON.stringify(image)}: must be a Docker image reference such as debian:bookworm-slim or debian:{suite}-slim`,
    ]);
  });
});

describe("SettingsError lists every problem", () => {
  test("one line per problem, each naming its variable, in a stable order", () => {
    const error = settingsError({
      PGDRILL_BUDGET_RECOVER_S: "-1",
      PGDRILL_BUDGET_CONTAINER_START_S: "soon",
      PGDRILL_BUDGET_NAP_S: "3",
      PGDRILL_KEEP: "maybe",
      PGDRILL_BASE_IMAGE: "Not An Image",
      PGDRILL_BUDGET_SQL_STATEMENT_S: "10", // valid: not listed
    });
    expect(error.problems).toHaveLength(5);
    expect(error.problems[0]).toBe('PGDRILL_BUDGET_CONTAINER_START_S="soon": must be a number of seconds');
    expect(error.problems[1]).toBe('PGDRILL_BUDGET_RECOVER_S="-1": must be a positive number of seconds');
    expect(error.problems[2]).toMatch(/^PGDRILL_BUDGET_NAP_S: unknown time budget; known budgets: /);
    expect(error.problems[3]).toBe('PGDRILL_KEEP="maybe": allowed: 1, 0, true, false, yes, no');
    expect(error.problems[4]).toBe('PGDRILL_BASE_IMAGE="Not An Image": must be a Docker image reference such as debian:bookworm-slim or debian:{suite}-slim');

    const lines = error.message.split("\n");
    expect(lines[0]).toBe("Invalid drill settings:");
    expect(lines.slice(1)).toEqual(error.problems.map((p) => `  - ${p}`));
    for (const variable of ["PGDRILL_BUDGET_RECOVER_S", "PGDRILL_BUDGET_CONTAINER_START_S", "PGDRILL_BUDGET_NAP_S", "PGDRILL_KEEP", "PGDRILL_BASE_IMAGE"]) {
      expect(error.message).toContain(variable);
    }
    expect(error.message).not.toContain("PGDRILL_BUDGET_SQL_STATEMENT_S=");
  });
});

describe("fixed bugs (regression tests)", () => {
  // A value the schema accepts as "a positive number of seconds" is rounded to a 0 ms budget,
  // which makes every wait on that budget fail at once.
  test("PGDRILL_BUDGET_BACKUP_S=0.0004 must not give a 0 ms budget", () => {
    let budgetMs: number | undefined;
    try {
      budgetMs = readSettings({ PGDRILL_BUDGET_BACKUP_S: "0.0004" }).budgetsMs.backup;
    } catch (error) {
      expect(error).toBeInstanceOf(SettingsError); // rejecting it would be fine too
      return;
    }
    expect(budgetMs).toBeGreaterThan(0);
  });
});

describe("PGDRILL_TARGET_KINDS", () => {
  test("unset: no override, so the configuration's targets apply", () => {
    expect(readSettings({}).targetKinds).toBeUndefined();
  });

  test("every kind can be named explicitly", () => {
    expect(readSettings({ PGDRILL_TARGET_KINDS: "time,name,xid-exclusive,xid-inclusive,lsn,immediate,latest" }).targetKinds).toEqual([
      "time",
      "name",
      "xid-exclusive",
      "xid-inclusive",
      "lsn",
      "immediate",
      "latest",
    ]);
  });

  test("a comma-separated subset, spaces allowed", () => {
    expect(readSettings({ PGDRILL_TARGET_KINDS: "time, name,latest" }).targetKinds).toEqual(["time", "name", "latest"]);
  });

  test("an unknown kind names the variable and what is allowed", () => {
    expect(() => readSettings({ PGDRILL_TARGET_KINDS: "time,yesterday" })).toThrow(
      /PGDRILL_TARGET_KINDS="time,yesterday": allowed: time, name, xid-exclusive, xid-inclusive, lsn, immediate, latest \(comma-separated\)/,
    );
  });

  test("an empty list is refused", () => {
    expect(() => readSettings({ PGDRILL_TARGET_KINDS: " , " })).toThrow(/PGDRILL_TARGET_KINDS=" , ": name at least one of/);
  });
});

describe("objectives: OBJECTIVE_DEFAULTS and OBJECTIVE_ENV", () => {
  test("the defaults are the seed drill's figures", () => {
    expect(OBJECTIVE_DEFAULTS).toEqual(DEFAULT_OBJECTIVES);
  });

  // The names users type: written out by hand so that they do not drift.
  test("one variable per objective", () => {
    expect(OBJECTIVE_ENV).toEqual({
      rtoBarmanRecoverS: "PGDRILL_RTO_BARMAN_RECOVER_S",
      rtoInstanceStartS: "PGDRILL_RTO_INSTANCE_START_S",
      rtoVerificationS: "PGDRILL_RTO_VERIFICATION_S",
      rtoTotalS: "PGDRILL_RTO_TOTAL_S",
      rpoRows: "PGDRILL_RPO_ROWS",
      rpoSeconds: "PGDRILL_RPO_SECONDS",
    });
  });
});

describe("readSettings: objectives", () => {
  const SECONDS_OBJECTIVES: Array<[string, keyof RecoveryObjectives]> = [
    ["PGDRILL_RTO_BARMAN_RECOVER_S", "rtoBarmanRecoverS"],
    ["PGDRILL_RTO_INSTANCE_START_S", "rtoInstanceStartS"],
    ["PGDRILL_RTO_VERIFICATION_S", "rtoVerificationS"],
    ["PGDRILL_RTO_TOTAL_S", "rtoTotalS"],
    ["PGDRILL_RPO_SECONDS", "rpoSeconds"],
  ];

  test.each(SECONDS_OBJECTIVES)("%s=12.5 overrides only %s, in seconds", (variable, key) => {
    const settings = readSettings({ [variable]: "12.5" });
    expect(settings.objectives).toEqual({ ...DEFAULT_OBJECTIVES, [key]: 12.5 });
    expect(settings.budgetsMs).toEqual(DEFAULT_BUDGETS_MS);
  });

  test.each(SECONDS_OBJECTIVES)("%s accepts whole and large values", (variable, key) => {
    expect(readSettings({ [variable]: "3" }).objectives[key]).toBe(3);
    expect(readSettings({ [variable]: "100000" }).objectives[key]).toBe(100_000);
  });

  test.each(
    SECONDS_OBJECTIVES.flatMap(([variable]) => [
      [variable, "-5", "must be a positive number of seconds"],
      [variable, "0", "must be a positive number of seconds"],
      [variable, "", "must be a positive number of seconds"],
      [variable, "abc", "must be a number of seconds"],
      [variable, "Infinity", "must be a number of seconds"],
    ]),
  )("%s=%j is rejected: %s", (variable, value, reason) => {
    const error = settingsError({ [variable]: value });
    expect(error.problems).toEqual([`${variable}=${JSON.stringify(value)}: ${reason}`]);
    expect(error.message).toBe(`Invalid drill settings:\n  - ${variable}=${JSON.stringify(value)}: ${reason}`);
  });

  test("PGDRILL_RPO_ROWS overrides only rpoRows, 0 included", () => {
    expect(readSettings({ PGDRILL_RPO_ROWS: "25" }).objectives).toEqual({ ...DEFAULT_OBJECTIVES, rpoRows: 25 });
    expect(readSettings({ PGDRILL_RPO_ROWS: "0" }).objectives.rpoRows).toBe(0);
  });

  test.each([
    ["-1", "must be a whole number of rows, 0 or more"],
    ["1.5", "must be a whole number of rows, 0 or more"],
    ["0.1", "must be a whole number of rows, 0 or more"],
    ["abc", "must be a whole number of rows"],
    ["Infinity", "must be a whole number of rows"],
  ])("PGDRILL_RPO_ROWS=%j is rejected: %s", (value, reason) => {
    expect(settingsError({ PGDRILL_RPO_ROWS: value }).problems).toEqual([`PGDRILL_RPO_ROWS=${JSON.stringify(value)}: ${reason}`]);
  });

  test("several objectives at once", () => {
    expect(readSettings({ PGDRILL_RTO_TOTAL_S: "600", PGDRILL_RPO_ROWS: "2", PGDRILL_RTO_VERIFICATION_S: "0.5" }).objectives).toEqual({
      ...DEFAULT_OBJECTIVES,
      rtoTotalS: 600,
      rpoRows: 2,
      rtoVerificationS: 0.5,
    });
  });

  test("PGDRILL_RTO_ variables are not time budgets", () => {
    // Only PGDRILL_BUDGET_* is checked against the list of known budgets.
    expect(readSettings({ PGDRILL_RTO_TOTAL_S: "60" }).budgetsMs).toEqual(DEFAULT_BUDGETS_MS);
  });
});

describe("readSettings: trend", () => {
  test("PGDRILL_RTO_TREND_RUNS overrides the window only", () => {
    expect(readSettings({ PGDRILL_RTO_TREND_RUNS: "3" }).trend).toEqual({ window: 3, allowedShare: 0.5, failOnRegression: false });
    expect(readSettings({ PGDRILL_RTO_TREND_RUNS: "1" }).trend.window).toBe(1);
  });

  test.each([
    ["0", "must be at least 1"],
    ["-1", "must be at least 1"],
    ["", "must be at least 1"],
    ["2.5", "must be a whole number of runs"],
  ])("PGDRILL_RTO_TREND_RUNS=%j is rejected: %s", (value, reason) => {
    const error = settingsError({ PGDRILL_RTO_TREND_RUNS: value });
    expect(error.problems).toEqual([`PGDRILL_RTO_TREND_RUNS=${JSON.stringify(value)}: ${reason}`]);
    expect(error.message.split("\n")).toHaveLength(2);
  });

  test("PGDRILL_RTO_TREND_RUNS that is not a number is rejected, naming the variable", () => {
    expect(settingsError({ PGDRILL_RTO_TREND_RUNS: "abc" }).problems).toEqual([expect.stringMatching(/^PGDRILL_RTO_TREND_RUNS="abc": /)]);
  });

  test("PGDRILL_RTO_REGRESSION_SHARE overrides the allowed share only", () => {
    expect(readSettings({ PGDRILL_RTO_REGRESSION_SHARE: "0.25" }).trend).toEqual({ window: 10, allowedShare: 0.25, failOnRegression: false });
    expect(readSettings({ PGDRILL_RTO_REGRESSION_SHARE: "2" }).trend.allowedShare).toBe(2);
  });

  test.each([
    ["0", "must be a positive share, e.g. 0.5 for +50%"],
    ["-0.1", "must be a positive share, e.g. 0.5 for +50%"],
    ["", "must be a positive share, e.g. 0.5 for +50%"],
    ["abc", "must be a number"],
    ["Infinity", "must be a number"],
  ])("PGDRILL_RTO_REGRESSION_SHARE=%j is rejected: %s", (value, reason) => {
    expect(settingsError({ PGDRILL_RTO_REGRESSION_SHARE: value }).problems).toEqual([`PGDRILL_RTO_REGRESSION_SHARE=${JSON.stringify(value)}: ${reason}`]);
  });

  test.each([
    ["1", true],
    ["true", true],
    ["yes", true],
    ["0", false],
    ["false", false],
    ["no", false],
    ["", false],
  ])("PGDRILL_FAIL_ON_RTO_REGRESSION=%j -> %s", (value, expected) => {
    expect(readSettings({ PGDRILL_FAIL_ON_RTO_REGRESSION: value }).trend).toEqual({ window: 10, allowedShare: 0.5, failOnRegression: expected });
  });

  test.each(["TRUE", "on", "2", "maybe"])("PGDRILL_FAIL_ON_RTO_REGRESSION=%j is rejected", (value) => {
    expect(settingsError({ PGDRILL_FAIL_ON_RTO_REGRESSION: value }).problems).toEqual([
      `PGDRILL_FAIL_ON_RTO_REGRESSION=${JSON.stringify(value)}: allowed: 1, 0, true, false, yes, no`,
    ]);
  });

  test("PGDRILL_FAIL_ON_RTO_REGRESSION does not change PGDRILL_KEEP and vice versa", () => {
    const settings = readSettings({ PGDRILL_FAIL_ON_RTO_REGRESSION: "yes" });
    expect(settings.keepResources).toBe(false);
    expect(readSettings({ PGDRILL_KEEP: "yes" }).trend.failOnRegression).toBe(false);
  });
});

describe("SettingsError with the new variables", () => {
  test("objective and trend problems are listed after the budgets, in a stable order", () => {
    const error = settingsError({
      PGDRILL_RTO_TREND_RUNS: "0",
      PGDRILL_FAIL_ON_RTO_REGRESSION: "maybe",
      PGDRILL_RPO_ROWS: "-1",
      PGDRILL_RTO_BARMAN_RECOVER_S: "x",
      PGDRILL_KEEP: "maybe",
      PGDRILL_BUDGET_BACKUP_S: "0",
      PGDRILL_RTO_REGRESSION_SHARE: "0",
      PGDRILL_RTO_TOTAL_S: "300", // valid: not listed
    });
    expect(error.problems).toEqual([
      'PGDRILL_BUDGET_BACKUP_S="0": must be a positive number of seconds',
      'PGDRILL_RTO_BARMAN_RECOVER_S="x": must be a number of seconds',
      'PGDRILL_RPO_ROWS="-1": must be a whole number of rows, 0 or more',
      'PGDRILL_KEEP="maybe": allowed: 1, 0, true, false, yes, no',
      'PGDRILL_RTO_TREND_RUNS="0": must be at least 1',
      'PGDRILL_RTO_REGRESSION_SHARE="0": must be a positive share, e.g. 0.5 for +50%',
      'PGDRILL_FAIL_ON_RTO_REGRESSION="maybe": allowed: 1, 0, true, false, yes, no',
    ]);
    expect(error.message).not.toContain("PGDRILL_RTO_TOTAL_S");
  });
});

// Bugs found while writing these tests; reported, not fixed. Marked `fails` while the bug is there.
describe("known bugs", () => {
  // "A wrong value fails with one line naming the variable and what it accepts": for a value that
  // is not a number at all, the trend window gets zod's default "Invalid input: expected number,
  // received NaN", which does not say what is accepted.
  test.each(["abc", "Infinity"])("fixed: PGDRILL_RTO_TREND_RUNS=%j says what it accepts", (value) => {
    expect(settingsError({ PGDRILL_RTO_TREND_RUNS: value }).problems).toEqual([
      `PGDRILL_RTO_TREND_RUNS=${JSON.stringify(value)}: must be a whole number of runs`,
    ]);
  });
});

describe("misspelt objective variables", () => {
  test("an unknown PGDRILL_RTO_ or PGDRILL_RPO_ variable is reported, not ignored", () => {
    expect(() => readSettings({ PGDRILL_RTO_TOTAL: "100" })).toThrow(/PGDRILL_RTO_TOTAL: unknown objective; known: .*PGDRILL_RTO_TOTAL_S/);
    expect(() => readSettings({ PGDRILL_RPO_ROW: "1" })).toThrow(/PGDRILL_RPO_ROW: unknown objective/);
  });
});
