// What the report's browser check expects, derived from Allure results (tests/report/allure-results.ts),
// and the failure classes allurerc.mjs sorts the suite's own messages into.
import { describe, expect, test } from "vitest";
import allureConfig from "../../allurerc.mjs";
import { type CategoryRule, countByStatus, expectedCategory, isRed, type ResultSummary, summarizeResults } from "../report/allure-results.ts";

const label = (name: string, value: string) => ({ name, value });
const labels = [label("package", "pg-dr-drill.tests.drill.drill.test.ts"), label("parentSuite", "Scenario 12: accidental DELETE of all orders")];

describe("summarizeResults", () => {
  test("a retried test counts once, as its last attempt; the cause is the message's first line; attachments of nested steps are found", () => {
    const results = summarizeResults([
      { name: "Step 6: WAL", historyId: "h6", status: "failed", stop: 1, labels, statusDetails: { message: "first try" } },
      {
        name: "Step 6: WAL",
        historyId: "h6",
        status: "failed",
        stop: 2,
        labels,
        statusDetails: { message: '\nWAL segments missing from Barman\'s archive: ["000000010000000000000006"]\nexpected none' },
        attachments: [{ name: "barman.log" }],
        steps: [{ attachments: [{ name: "barman show-backup" }], steps: [{ attachments: [{ name: "barman commands" }] }] }],
      },
      { name: "Step 7: recover", historyId: "h7", status: "skipped", labels, description: 'skipped because an earlier step failed: "Step 6: WAL"' },
      { name: "Step 1: seed", historyId: "h1", status: "passed", labels },
    ]);
    expect(results).toHaveLength(3);
    const failed = results.find((r) => r.status === "failed")!;
    expect(failed.cause).toBe('WAL segments missing from Barman\'s archive: ["000000010000000000000006"]');
    expect(failed.attachments).toEqual(["barman.log", "barman show-backup", "barman commands"]);
    expect([failed.file, failed.suite]).toEqual(["pg-dr-drill.tests.drill.drill.test.ts", "Scenario 12: accidental DELETE of all orders"]);
    expect(countByStatus(results)).toEqual({ total: 3, passed: 1, failed: 1, broken: 0, skipped: 1, unknown: 0 });
    expect(isRed(results)).toBe(true);
    expect(isRed(results.filter((r) => r.status !== "failed"))).toBe(false);
  });
});

describe("allurerc.mjs categories: each failure class from the words the suite and the servers use", () => {
  const rules = allureConfig.categories as CategoryRule[];
  const failedWith = (message: string, status: ResultSummary["status"] = "failed"): ResultSummary => ({
    name: "a step",
    fullName: "a step",
    file: "",
    suite: "",
    status,
    message,
    attachments: [],
  });

  test.each([
    ["WAL segments missing from Barman's archive between 000000010000000000000003 and 000000010000000000000006 (4 checked)", "WAL gap"],
    ["WAL verification: segment 000000010000000000000007 missing from Barman's archive", "WAL gap"],
    ['pg_checksums: error: checksum verification failed in file "base/16386/16388", block 1', "Backup damaged"],
    ["copy verification FAILED: the restored copy does not match its backup manifest", "Backup damaged"],
    ["Backup verification: NOT VERIFIED: backup 20261203T114454 has no backup_manifest", "Backup could not be verified"],
    ["FATAL:  recovery ended before configured recovery target was reached", "Recovery target not reached"],
    [
      "RTO total 312.400 s from the disaster is over its budget of 300 s (objectives.rtoTotalS in the configuration, or PGDRILL_RTO_TOTAL_S)",
      "Objective missed",
    ],
    ["the drill's containers did not start: primary: No space left on device", "Infrastructure"],
  ])("%s -> %s", (message, wanted) => {
    expect(expectedCategory(failedWith(message), rules)).toMatch(new RegExp(`^${wanted}`));
  });

  test("a message no rule knows falls to Allure's own categories", () => {
    expect(expectedCategory(failedWith("something new"), rules)).toBe("Product errors");
    expect(expectedCategory(failedWith("something new", "broken"), rules)).toBe("Test errors");
  });
});
