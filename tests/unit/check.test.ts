import { describe, expect, test } from "vitest";
import { checkEqual, checkThat, describeCheck, failedChecks, formatValue } from "../../src/asserts/check.ts";

describe("checkEqual", () => {
  test("equal values pass and keep what, actual, expected and where the expected value comes from", () => {
    expect(checkEqual("orders rows on the recovered instance", 60104, 60104, "the good state")).toEqual({
      what: "orders rows on the recovered instance",
      actual: 60104,
      expected: 60104,
      expectedFrom: "the good state",
      kind: "equal",
      ok: true,
    });
  });

  test.each([
    ["different numbers", 0, 60104, false],
    ["a number and its text", 1, "1", false],
    ["equal rows (arrays of arrays)", [[100, "x"]], [[100, "x"]], true],
    ["rows in another order", [[1], [2]], [[2], [1]], false],
    ["null and null (a table absent on both)", null, null, true],
    ["null and a value", null, "5 rows", false],
    ["empty lists", [], [], true],
    ["true and true", true, true, true],
  ])("deep equality as JSON: %s -> ok %s", (_, actual, expected, ok) => {
    expect(checkEqual("x", actual, expected).ok).toBe(ok);
  });
});

describe("checkThat", () => {
  test("ok is the caller's; the wanted words become the expected value", () => {
    expect(checkThat("recovery target time", "2026-11-25 08:36:25.933281+00", true, "after the backup's end 2026-11-25T08:36:24.000Z")).toEqual({
      what: "recovery target time",
      actual: "2026-11-25 08:36:25.933281+00",
      expected: "after the backup's end 2026-11-25T08:36:24.000Z",
      kind: "predicate",
      ok: true,
    });
    expect(checkThat("x", 1, false, "two").ok).toBe(false);
  });
});

describe("formatValue", () => {
  test.each([
    [60104, "60,104"],
    [0, "0"],
    [-1234, "-1,234"],
    [0.093, "0.093"],
    ["DONE", "DONE"],
    ["", ""],
    [null, "absent"],
    [undefined, "nothing"],
    [[], "none"],
    [true, "true"],
    [[[100]], "[[100]]"],
    [{ rows: 4, checksum: "q" }, '{"rows":4,"checksum":"q"}'],
  ])("%j -> %j", (value, text) => {
    expect(formatValue(value)).toBe(text);
  });

  test("a runaway value is cut to 1,000 characters ending in ...", () => {
    const text = formatValue(Array.from({ length: 1000 }, (_, i) => i));
    expect(text).toHaveLength(1000);
    expect(text.startsWith("[0,1,2,3,")).toBe(true);
    expect(text.endsWith("...")).toBe(true);
  });

  test("two objectives missed are shown whole: the second is not cut off (objectives-gate went red on that)", () => {
    const missed = [
      "RTO phase 'barman recover' took 8.01 s, over its budget of 8 s (objectives.rtoBarmanRecoverS in the configuration, or PGDRILL_RTO_BARMAN_RECOVER_S)",
      "RTO total 22.5 s from the disaster is over its budget of 0.001 s (objectives.rtoTotalS in the configuration, or PGDRILL_RTO_TOTAL_S); the largest phase is barman recover with 8.01 s",
    ];
    expect(formatValue(missed)).toBe(JSON.stringify(missed));
  });
});

describe("describeCheck", () => {
  test.each([
    [
      "a passing equal check with its source",
      checkEqual("orders rows on the recovered instance", 60104, 60104, "the good state"),
      "orders rows on the recovered instance: 60,104, equal to the good state",
    ],
    ["a passing equal check without a source", checkEqual("recovered instance promoted", true, true), "recovered instance promoted: true"],
    [
      "a failing equal check with its source",
      checkEqual("orders rows on the recovered instance", 0, 60104, "the good state"),
      "orders rows on the recovered instance: 0, expected 60,104 (the good state)",
    ],
    [
      "a failing equal check without a source",
      checkEqual("recovered instance in recovery", true, false),
      "recovered instance in recovery: true, expected false",
    ],
    [
      "an absent table where rows were expected",
      checkEqual("orders on the recovered instance", null, "60104 rows", "the good state"),
      "orders on the recovered instance: absent, expected 60104 rows (the good state)",
    ],
    ["an empty list that had to stay empty", checkEqual("WAL segments missing", [], []), "WAL segments missing: none"],
    [
      "a passing predicate check",
      checkThat("the recovered instance's timeline", 2, true, "a new one after the primary's 1"),
      "the recovered instance's timeline: 2, a new one after the primary's 1",
    ],
    [
      "a failing predicate check",
      checkThat("the recovered instance's timeline", 1, false, "a new one after the primary's 1"),
      "the recovered instance's timeline: 1, expected a new one after the primary's 1",
    ],
  ])("%s", (_, check, line) => {
    expect(describeCheck(check)).toBe(line);
  });
});

describe("failedChecks", () => {
  test("only the failed checks, as sentences, in order", () => {
    expect(
      failedChecks([
        checkEqual("users rows on the recovered instance", 1000, 1000, "the good state"),
        checkEqual("orders rows on the recovered instance", 0, 60104, "the good state"),
        checkThat("recovered instance's timeline", 1, false, "a new one after the primary's 1"),
      ]),
    ).toEqual([
      "orders rows on the recovered instance: 0, expected 60,104 (the good state)",
      "recovered instance's timeline: 1, expected a new one after the primary's 1",
    ]);
  });

  test("all passed, or no checks: empty", () => {
    expect(failedChecks([checkEqual("a", 1, 1)])).toEqual([]);
    expect(failedChecks([])).toEqual([]);
  });
});
