import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readSettings } from "../../src/drill/config.ts";
import { applyConfigToSettings, type DrillConfig, DrillConfigError, loadDrillConfig, validateDrillConfig } from "../../src/drill/drill-config.ts";

const minimal: DrillConfig = {
  name: "minimal",
  seed: ["CREATE TABLE t (id int)"],
  normalWork: ["INSERT INTO t VALUES (1)"],
  disaster: ["DELETE FROM t"],
  verify: { tables: ["t"] },
};

function problems(value: unknown): string[] {
  try {
    validateDrillConfig(value, "test");
  } catch (error) {
    expect(error).toBeInstanceOf(DrillConfigError);
    return (error as DrillConfigError).problems;
  }
  return [];
}

describe("validateDrillConfig", () => {
  test("a minimal configuration is valid", () => {
    expect(validateDrillConfig(minimal, "test")).toEqual(minimal);
  });

  test("each problem names its setting and what is allowed", () => {
    expect(problems({ ...minimal, verify: { tables: [] } })).toEqual(["config.verify.tables: name at least one table to compare"]);
    expect(problems({ ...minimal, verify: { tables: ["orders; DROP TABLE x"] } })).toEqual([
      "config.verify.tables[0]: must be a table name such as orders or app.orders",
    ]);
    expect(problems({ ...minimal, targets: ["time", "yesterday"] })[0]).toMatch(/^config\.targets\[1\]: allowed: time, name, xid-exclusive/);
    expect(problems({ ...minimal, disaster: [] })).toEqual(["config.disaster: give the disaster's SQL"]);
    expect(problems({ ...minimal, disaster: [async () => undefined] })[0]).toMatch(/^config\.disaster\[0\]/);
    expect(problems({ ...minimal, objectives: { rtoTotalS: -1 } })[0]).toMatch(/^config\.objectives\.rtoTotalS: /);
    expect(problems({ ...minimal, budgetsS: { recovr: 5 } })[0]).toMatch(/^config\.budgetsS: Unrecognized key: "recovr"/);
    expect(problems({ ...minimal, barman: { settings: { compression: "gzip\nbackup_method = rsync" } } })).toEqual([
      "config.barman.settings.compression: must be one line",
    ]);
    expect(problems({ ...minimal, database: "Shop" })).toEqual(["config.database: must be a lower-case database name"]);
    expect(problems({ ...minimal, primary: { layout: "ubuntu" } })).toEqual(["config.primary.layout: allowed: official, debian"]);
    expect(problems({ ...minimal, primary: { layout: "debian" } })).toEqual([]);
  });

  test("several problems at once, all reported", () => {
    expect(problems({ name: "", seed: [], normalWork: [], disaster: [], verify: { tables: [] } })).toHaveLength(5);
  });

  test("unknown fields are refused (a typo is not silently ignored)", () => {
    expect(problems({ ...minimal, targtes: ["time"] })[0]).toMatch(/^config: Unrecognized key: "targtes"/);
  });
});

const NIGHTLY_CHECKS = [{ name: "users", sql: "SELECT count(*)::int FROM users", expected: [[1000]] }];

describe("validateDrillConfig: the drill's four parts are optional together", () => {
  test("a configuration with only nightly.checks is valid (for npm run verify:existing)", () => {
    const nightlyOnly = { name: "nightly only", nightly: { checks: NIGHTLY_CHECKS } };
    expect(validateDrillConfig(nightlyOnly, "test")).toEqual(nightlyOnly);
  });

  test("a drill with nightly.checks as well is valid", () => {
    const both = { ...minimal, nightly: { checks: NIGHTLY_CHECKS } };
    expect(validateDrillConfig(both, "test")).toEqual(both);
  });

  test("neither the drill's parts nor nightly.checks: refused, saying what to give", () => {
    expect(problems({ name: "empty" })).toEqual([
      "config: give the drill's seed, normalWork, disaster and verify, or nightly.checks for the nightly verification",
    ]);
  });

  test.each([
    [
      "seed alone",
      { seed: minimal.seed },
      ["config.normalWork: a drill needs it beside seed", "config.disaster: a drill needs it beside seed", "config.verify: a drill needs it beside seed"],
    ],
    [
      "seed and verify",
      { seed: minimal.seed, verify: minimal.verify },
      ["config.normalWork: a drill needs it beside seed, verify", "config.disaster: a drill needs it beside seed, verify"],
    ],
    [
      "all but disaster",
      { seed: minimal.seed, normalWork: minimal.normalWork, verify: minimal.verify },
      ["config.disaster: a drill needs it beside seed, normalWork, verify"],
    ],
  ])("some of the four parts (%s): each missing one is named", (_, parts, expected) => {
    expect(problems({ name: "partial", ...parts })).toEqual(expected);
  });

  test("nightly.checks does not excuse a partial drill", () => {
    expect(problems({ name: "partial", seed: minimal.seed, nightly: { checks: NIGHTLY_CHECKS } })).toEqual([
      "config.normalWork: a drill needs it beside seed",
      "config.disaster: a drill needs it beside seed",
      "config.verify: a drill needs it beside seed",
    ]);
  });

  test("a nightly check needs its expected rows, and there must be at least one check", () => {
    expect(problems({ name: "n", nightly: { checks: [{ name: "users", sql: "SELECT 1" }] } })).toEqual([
      "config.nightly.checks[0].expected: Invalid input: expected nonoptional, received undefined",
    ]);
    expect(problems({ name: "n", nightly: { checks: [] } })).toEqual(["config.nightly.checks: Too small: expected array to have >=1 items"]);
  });
});

describe("validateDrillConfig: recover.jobs", () => {
  test.each([1, 4, 64])("recover.jobs = %s is valid", (jobs) => {
    expect(validateDrillConfig({ ...minimal, recover: { jobs } }, "test").recover).toEqual({ jobs });
  });

  test("recover without jobs is valid (Barman's parallel_jobs, else 1)", () => {
    expect(validateDrillConfig({ ...minimal, recover: {} }, "test").recover).toEqual({});
  });

  test.each([
    [0, "config.recover.jobs: Too small: expected number to be >=1"],
    [65, "config.recover.jobs: Too big: expected number to be <=64"],
    [1.5, "config.recover.jobs: must be a whole number of jobs"],
    ["4", "config.recover.jobs: Invalid input: expected number, received string"],
  ])("recover.jobs = %j is refused: %s", (jobs, message) => {
    expect(problems({ ...minimal, recover: { jobs } })).toEqual([message]);
  });

  test("an unknown key under recover is refused", () => {
    expect(problems({ ...minimal, recover: { job: 4 } })).toEqual(['config.recover: Unrecognized key: "job"']);
  });
});

describe("loadDrillConfig", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pgdrill-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("finds pgdrill.config.ts in the working directory (the project's own)", async () => {
    const { config, path } = await loadDrillConfig({ env: {} });
    expect(path).toMatch(/pgdrill\.config\.ts$/);
    expect(config.expect?.goodState).toEqual({ users: 1000, orders: 60104 });
  });

  test("PGDRILL_CONFIG points elsewhere; the examples load", async () => {
    const { config } = await loadDrillConfig({ env: { PGDRILL_CONFIG: "examples/multi-schema-drop-table/pgdrill.config.ts" } });
    expect(config.disaster).toEqual(["DROP TABLE sales.invoices"]);
  });

  test("a missing file says which and how to fix it", async () => {
    await expect(loadDrillConfig({ env: { PGDRILL_CONFIG: "nope.ts" } })).rejects.toThrow(/PGDRILL_CONFIG=nope\.ts: no such file/);
    await expect(loadDrillConfig({ env: {}, cwd: dir })).rejects.toThrow(/no pgdrill\.config\.ts in .*; create one or set PGDRILL_CONFIG/);
  });

  test("a file without a default export, or with a broken value, or naming a missing SQL file", async () => {
    await writeFile(join(dir, "no-default.ts"), "export const x = 1;\n");
    await expect(loadDrillConfig({ path: join(dir, "no-default.ts") })).rejects.toThrow(/has no default export/);
    await writeFile(join(dir, "broken.ts"), `export default ${JSON.stringify({ ...minimal, verify: { tables: [] } })};\n`);
    await expect(loadDrillConfig({ path: join(dir, "broken.ts") })).rejects.toThrow(/config\.verify\.tables: name at least one table/);
    await writeFile(join(dir, "missing-file.ts"), `export default ${JSON.stringify({ ...minimal, seed: [{ file: "schema.sql" }] })};\n`);
    await expect(loadDrillConfig({ path: join(dir, "missing-file.ts") })).rejects.toThrow(
      /config\.seed\[0\]\.file: schema\.sql does not exist next to the config/,
    );
  });
});

describe("applyConfigToSettings", () => {
  test("config objectives and budgets override defaults, environment variables override the config", () => {
    const config = { ...minimal, objectives: { rtoTotalS: 60, rpoRows: 5 }, budgetsS: { recover: 30 } };
    const env = { PGDRILL_RPO_ROWS: "0" };
    const settings = applyConfigToSettings(readSettings(env), config, env);
    expect(settings.objectives.rtoTotalS).toBe(60);
    expect(settings.objectives.rpoRows).toBe(0);
    expect(settings.budgetsMs.recover).toBe(30_000);
  });
});
