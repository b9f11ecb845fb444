// JUnit and Allure results of a nightly fleet run, read back by the consumers that matter: a real
// XML parser, the project's own counter (scripts/count-results.mjs), and the project's Allure 3
// (`allure generate`, which reads both the Allure results and the JUnit file).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { StepResult, TestResult } from "allure-js-commons";
// fast-xml-parser comes with the allure package (its JUnit reader parses with it): no dependency of its own.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { nightlyOutcome, renderFleetJunit, writeFleetAllureResults } from "../../src/nightly/fleet-outputs.ts";
import type { FleetReport } from "../../src/nightly/fleet-report.ts";
import { type NightlyResult, noEvidence } from "../../src/nightly/nightly-result.ts";
import { renderNightlySummary } from "../../src/nightly/summary.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const COUNTER = join(ROOT, "scripts/count-results.mjs");
const ALLURE = join(ROOT, "node_modules/.bin/allure");
/** `allure generate` of a few results takes about a second; this is a backstop for a slow machine. */
const ALLURE_GENERATE_BUDGET_MS = 60_000;

const BARMAN = "container barman-prod";
const BILLING_BACKUP = "20261124T230000";
/** What Barman printed, as it may arrive: markup, quotes, a colour code and a NUL among the words. */
const BARMAN_WORDS =
  '`barman verify-backup billing 20261124T230000` exit 1: pg_verifybackup: error: "base/16384/2619" has size 8192 on disk but size 16384 in the manifest\n' +
  '\u001b[31mERROR\u001b[0m </failure></testcase><testcase name="ghost"> & \u0000 done';

function server(name: string, over: Partial<NightlyResult> = {}): NightlyResult {
  return {
    verdict: "pass",
    startedAt: "2026-11-25T02:00:00.000Z",
    finishedAt: "2026-11-25T02:03:00.000Z",
    mode: "full WAL replay",
    postgresMajor: 17,
    freshness: {
      measuredAt: "2026-11-25T02:00:00.000Z",
      backupEndTime: "2026-11-24T23:10:00.000Z",
      backupAgeS: 10_200,
      newestWalTime: "2026-11-25T01:59:00.000Z",
      newestWalAgeS: 60,
      recoveryPointTime: "2026-11-25T01:58:30.000Z",
      recoveryPointAgeS: 90,
      recoveryPointSource: "pg_last_committed_xact",
    },
    transferredBytes: 512 * 1048576,
    barman: BARMAN,
    server: name,
    backupId: "20261124T230000",
    backupEndTime: "2026-11-24T23:10:00.000Z",
    backupSizeBytes: 500 * 1048576,
    target: { kind: "latest" },
    workDirectory: `/var/tmp/pgdrill-verify-night1-${name}`,
    phasesMs: { verifyBackupMs: 4_000, barmanRecoverMs: 60_000, transferMs: 20_000, instanceStartUntilPromotedMs: 30_000, verificationMs: 5_000 },
    totalMs: 180_000,
    checks: [
      { name: "orders count", kind: "query", ok: true, expected: [[42]], actual: [[42]], durationMs: 1_000 },
      { name: "amcheck", kind: "amcheck", ok: true, expected: [], actual: [], durationMs: 4_000 },
    ],
    problems: [],
    failedPhase: undefined,
    interrupted: false,
    barmanCommands: [
      { command: `barman list-backup --minimal ${name}`, exitCode: 0, durationMs: 310 },
      { command: `barman verify-backup ${name} 20261124T230000`, exitCode: 0, durationMs: 3_990 },
    ],
    ...noEvidence(),
    ...over,
  };
}

const notReached = { barmanRecoverMs: null, transferMs: null, instanceStartUntilPromotedMs: null, verificationMs: null };

/** main passes; billing's backup fails pg_verifybackup (and its clean-up then fails too); reports is interrupted. */
function fleet(night: { runId: string; backupId: string; startedAt: string }): FleetReport {
  const at = (ms: number): string => new Date(Date.parse(night.startedAt) + ms).toISOString();
  const base = { startedAt: at(0), finishedAt: at(180_000), backupId: night.backupId };
  return {
    schemaVersion: 2,
    runId: night.runId,
    startedAt: at(0),
    finishedAt: at(185_000),
    barman: BARMAN,
    verdict: "fail",
    shard: "1/1",
    servers: [
      server("main", base),
      server("billing", {
        ...base,
        finishedAt: at(9_000),
        verdict: "fail",
        transferredBytes: null,
        phasesMs: { verifyBackupMs: 7_000, ...notReached },
        totalMs: 9_000,
        checks: [],
        problems: [
          `backup verification failed for backup ${night.backupId} of server 'billing', target end of the archived WAL (no target): ${BARMAN_WORDS}`,
          `clean-up failed for backup ${night.backupId} of server 'billing', target end of the archived WAL (no target): /var/tmp/pgdrill-verify-x is still on ${BARMAN}, remove it by hand (rm -rf exit 1: Permission denied)`,
        ],
        failedPhase: "backup verification",
        barmanCommands: [{ command: `barman verify-backup billing ${night.backupId}`, exitCode: 1, durationMs: 6_990 }],
      }),
      server("reports", {
        ...base,
        finishedAt: at(6_000),
        verdict: "fail",
        transferredBytes: null,
        phasesMs: { verifyBackupMs: 5_000, ...notReached },
        totalMs: 6_000,
        checks: [],
        problems: [
          `barman recover failed for backup ${night.backupId} of server 'reports', target end of the archived WAL (no target): interrupted (SIGINT) before this phase; what ran so far has been cleaned up`,
        ],
        failedPhase: "barman recover",
        interrupted: true,
      }),
    ],
  };
}

const NIGHT_1 = { runId: "night1", backupId: BILLING_BACKUP, startedAt: "2026-11-25T02:00:00.000Z" };
const NIGHT_2 = { runId: "night2", backupId: "20261125T230000", startedAt: "2026-11-26T02:00:00.000Z" };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pgdrill-fleet-outputs-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every character is one XML 1.0 allows, and every & starts an entity or a character reference. */
function expectWellFormedCharacters(xml: string): void {
  for (const char of xml) {
    const code = char.codePointAt(0)!;
    const allowed = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || code >= 0x10000;
    expect(allowed, `U+${code.toString(16)} is not an XML character`).toBe(true);
  }
  expect(xml.match(/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/g)).toBeNull();
}

function runNode(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", timeout: ALLURE_GENERATE_BUDGET_MS });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/**
 * The project's `allure generate` into `output`, with a config of this test's own (no history in
 * reports/history, no report in reports/): the results directories as CI merges shards.
 */
async function allureGenerate(name: string, resultsDirs: string[], historyPath: string): Promise<string> {
  const output = join(dir, name, "report");
  const config = join(dir, name, "allurerc.mjs");
  await mkdir(join(dir, name), { recursive: true });
  await writeFile(config, `export default ${JSON.stringify({ name: `fleet outputs ${name}`, output, historyPath })};\n`);
  const run = runNode([ALLURE, "generate", "--config", config, ...resultsDirs]);
  expect(run.status, `allure generate failed:\n${run.stdout}\n${run.stderr}`).toBe(0);
  return output;
}

async function readResults(resultsDir: string): Promise<Map<string, TestResult>> {
  const files = (await readdir(resultsDir)).filter((f) => f.endsWith("-result.json"));
  const results = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(resultsDir, f), "utf8")) as TestResult));
  return new Map(results.map((r) => [r.name!, r]));
}

const stepNames = (steps: StepResult[]): string[] => steps.map((s) => s.name!.split(":")[0]!);
const labelsOf = (result: TestResult, name: string): string[] => result.labels.filter((l) => l.name === name).map((l) => l.value);

/** The JUnit file as fast-xml-parser reads it (attributes as plain keys, text as #text). */
interface JunitFault {
  message: string;
  type: string;
  "#text": string;
}
interface JunitCase {
  name: string;
  properties?: { property: Array<{ name: string; value: string }> };
  classname: string;
  time: string;
  failure?: JunitFault;
  error?: JunitFault;
  "system-out": string;
}
interface JunitSuite {
  name: string;
  tests: string;
  properties: { property: Array<{ name: string; value: string }> };
  testcase: JunitCase[];
}

describe("JUnit of a fleet run", () => {
  const report = fleet(NIGHT_1);
  const xml = renderFleetJunit(report);
  const parsed = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "",
    htmlEntities: true,
    trimValues: false,
    parseTagValue: false,
    parseAttributeValue: false,
    isArray: (name) => ["testsuite", "testcase", "property"].includes(name),
  }).parse(xml) as { testsuites: { testsuite: JunitSuite[] } };
  const suite = parsed.testsuites.testsuite[0]!;
  const cases = new Map(suite.testcase.map((c) => [c.name, c]));

  test("is well-formed XML whatever Barman printed: one suite for the Barman server, one case per PostgreSQL server", () => {
    expect(XMLValidator.validate(xml)).toBe(true);
    expectWellFormedCharacters(xml);
    expect(parsed.testsuites.testsuite).toHaveLength(1);
    expect(suite).toMatchObject({ name: `nightly verification ${BARMAN}`, tests: "3", failures: "1", errors: "1", skipped: "0", time: "185.000" });
    expect(suite.properties.property).toEqual([
      { name: "runId", value: "night1" },
      { name: "shard", value: "1/1" },
      { name: "barman", value: BARMAN },
    ]);
    expect([...cases.keys()]).toEqual(["main", "billing", "reports"]);
    for (const c of cases.values()) expect(c.classname).toBe("pgdrill.nightly");
    expect([...cases.values()].map((c) => c.time)).toEqual(["180.000", "9.000", "6.000"]);
  });

  test("a failed backup is a <failure> typed by its phase, with the first problem as message and every problem as text", () => {
    const billing = report.servers[1]!;
    const failure = cases.get("billing")!.failure!;
    expect(failure.type).toBe("backup verification");
    // Characters XML cannot carry show as \xNN; everything else (newlines, markup, quotes) arrives as it was.
    const visible = (s: string): string => s.replaceAll("\u001b", "\\x1B").replaceAll("\u0000", "\\x00");
    expect(failure.message).toBe(visible(billing.problems[0]!));
    expect(failure["#text"]).toBe(visible(billing.problems.join("\n")));
    expect(cases.get("billing")!["system-out"]).toBe(visible(renderNightlySummary(billing)));
    expect(cases.get("main")!.failure).toBeUndefined();
    expect(cases.get("main")!["system-out"]).toBe(renderNightlySummary(report.servers[0]!));
  });

  test("an interrupted run is an <error>: nothing was concluded about its backup", () => {
    const reports = cases.get("reports")!;
    expect(reports.failure).toBeUndefined();
    expect(reports.error).toMatchObject({ type: "barman recover", message: report.servers[2]!.problems[0] });
    expect(report.servers.map(nightlyOutcome)).toEqual(["passed", "failed", "broken"]);
  });

  test("each case carries the backup's verification apart from its verdict: not verified is a state, not a failure", () => {
    expect(cases.get("main")!.properties!.property).toEqual([
      { name: "backupVerification", value: "not verified" },
      { name: "backupVerificationReason", value: "the verification stopped before the backup's files were checked" },
    ]);
    const unverifiable = {
      ...report.servers[0]!,
      backupVerification: { verdict: "not verified" as const, by: null, reason: "no manifest" as const, sentence: "no manifest" },
    };
    expect(nightlyOutcome(unverifiable)).toBe("passed");
  });

  test("a full disk or a dropped SSH connection is an <error> too, whatever phase it met: nothing was concluded about the backup", () => {
    const billing = report.servers[1]!;
    expect(nightlyOutcome({ ...billing, failedPhase: "barman recover", cause: "disk full" })).toBe("broken");
    expect(nightlyOutcome({ ...billing, failedPhase: "backup verification", cause: "ssh" })).toBe("broken");
    expect(nightlyOutcome({ ...billing, failedPhase: "backup verification", cause: "other" })).toBe("failed");
  });

  test("the project's counter reads it: 1 passed, 2 failed, each failed one named on its own line before the count", async () => {
    const path = join(dir, "junit", "nightly-junit.xml");
    await mkdir(join(dir, "junit"), { recursive: true });
    await writeFile(path, xml);
    const run = runNode([COUNTER, path]);
    const lines = run.stdout.trim().split("\n");
    expect(lines.at(-1)).toBe("1 passed, 2 failed");
    expect(lines.slice(0, -1)).toHaveLength(2);
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^FAILED \S.* > .*: \S/);
    expect(lines.slice(0, -1).join("\n")).toContain("billing");
    expect(run.status).toBe(1);
  });

  test("Allure's own JUnit reader reads it: the three servers with their verdicts", async () => {
    const results = join(dir, "junit-as-results");
    await mkdir(results, { recursive: true });
    await writeFile(join(results, "nightly-junit.xml"), xml);
    const output = await allureGenerate("junit-report", [results], join(dir, "junit-report", "history.jsonl"));
    const summary = JSON.parse(await readFile(join(output, "summary.json"), "utf8"));
    expect(summary.stats).toMatchObject({ total: 3, passed: 1, failed: 1, broken: 1 });
  });

  test("the mask reaches every text: names, messages, summaries", () => {
    const masked = renderFleetJunit(report, { mask: (text) => text.replaceAll("barman-prod", "<masked>") });
    expect(masked).not.toContain("barman-prod");
    expect(masked).toContain("&lt;masked&gt;");
    expect(XMLValidator.validate(masked)).toBe(true);
  });
});

describe("Allure results of a fleet run", () => {
  const report = fleet(NIGHT_1);
  let resultsDir: string;
  let results: Map<string, TestResult>;
  beforeAll(async () => {
    resultsDir = join(dir, "allure-night1");
    const written = writeFleetAllureResults(report, resultsDir);
    expect(written.map((w) => [w.server, w.status])).toEqual([
      ["main", "passed"],
      ["billing", "failed"],
      ["reports", "broken"],
    ]);
    results = await readResults(resultsDir);
    expect(written.map((w) => existsSync(join(resultsDir, `${w.uuid}-result.json`)))).toEqual([true, true, true]);
  });

  test("one result per server: its name, a fullName per Barman and server, its status and the first problem", () => {
    expect([...results.keys()].sort()).toEqual(["Nightly verification of billing", "Nightly verification of main", "Nightly verification of reports"]);
    const billing = results.get("Nightly verification of billing")!;
    expect(billing.fullName).toBe(`pgdrill.nightly/${BARMAN}/billing`);
    expect(billing.status).toBe("failed");
    expect(billing.statusDetails.message).toBe(report.servers[1]!.problems[0]);
    expect(billing.statusDetails.trace).toBe(report.servers[1]!.problems.join("\n"));
    expect(results.get("Nightly verification of main")).toMatchObject({ status: "passed", statusDetails: {}, stage: "finished" });
    expect(results.get("Nightly verification of reports")).toMatchObject({ status: "broken", stage: "interrupted" });
    expect(billing.start).toBe(Date.parse(report.servers[1]!.startedAt));
    expect(billing.stop).toBe(Date.parse(report.servers[1]!.finishedAt));
  });

  test("labels: epic, feature, the Barman endpoint as story and suite, a timeline lane per server, the PostgreSQL major as tag", () => {
    const main = results.get("Nightly verification of main")!;
    expect(labelsOf(main, "epic")).toEqual(["Disaster recovery"]);
    expect(labelsOf(main, "feature")).toEqual(["Nightly verification of an existing Barman server"]);
    expect(labelsOf(main, "story")).toEqual([BARMAN]);
    expect(labelsOf(main, "suite")).toEqual([BARMAN]);
    expect(labelsOf(main, "tag")).toEqual(["PostgreSQL 17"]);
    expect(labelsOf(main, "host")).toHaveLength(1);
    const threads = [...results.values()].map((r) => labelsOf(r, "thread")[0]);
    expect(new Set(threads).size).toBe(3);
  });

  test("parameters: backup id, PostgreSQL major, mode, target, all left out of the history id", () => {
    const main = results.get("Nightly verification of main")!;
    expect(Object.fromEntries(main.parameters.map((p) => [p.name, p.value]))).toMatchObject({
      "backup id": BILLING_BACKUP,
      "PostgreSQL major": "17",
      mode: "full WAL replay",
      target: "end of the archived WAL (no target)",
    });
    expect(main.parameters.every((p) => p.excluded === true)).toBe(true);
  });

  test("one step per phase at its real place in time; the checks as steps of the last", () => {
    const result = report.servers[0]!;
    const main = results.get("Nightly verification of main")!;
    expect(stepNames(main.steps)).toEqual(["verify", "restore", "transfer", "start", "checks"]);
    expect(main.steps.every((s) => s.status === "passed" && s.stage === "finished")).toBe(true);
    const durations = main.steps.map((s) => s.stop! - s.start!);
    expect(durations).toEqual([4_000, 60_000, 20_000, 30_000, 5_000]);
    expect(main.steps[0]!.start).toBe(Date.parse(result.startedAt));
    expect(main.steps.slice(1).map((s) => s.start)).toEqual(main.steps.slice(0, -1).map((s) => s.stop));
    expect(main.steps[4]!.steps.map((s) => [s.name, s.status, s.stop! - s.start!])).toEqual([
      ["query 'orders count'", "passed", 1_000],
      ["amcheck 'amcheck'", "passed", 4_000],
    ]);
    expect(main.steps[2]!.parameters).toEqual([
      { name: "transferred", value: "512.0 MiB" },
      { name: "throughput", value: "25.6 MiB/s" },
    ]);
  });

  test("the failed phase is the failed step, with Barman's words; the phases after it are skipped", () => {
    const billing = results.get("Nightly verification of billing")!;
    expect(billing.steps.map((s) => [s.name!.split(":")[0], s.status])).toEqual([
      ["verify", "failed"],
      ["restore", "skipped"],
      ["transfer", "skipped"],
      ["start", "skipped"],
      ["checks", "skipped"],
    ]);
    expect(billing.steps[0]!.statusDetails.message).toContain('"base/16384/2619" has size 8192 on disk but size 16384 in the manifest');
    expect(billing.steps[0]!.stop! - billing.steps[0]!.start!).toBe(7_000);
    const reports = results.get("Nightly verification of reports")!;
    expect(reports.steps.map((s) => [s.name!.split(":")[0], s.status])).toEqual([
      ["verify", "passed"],
      ["restore", "broken"],
      ["transfer", "skipped"],
      ["start", "skipped"],
      ["checks", "skipped"],
    ]);
  });

  test("attachments on disk: the result as JSON, the summary, Barman's command transcript, the freshness", async () => {
    for (const [i, name] of ["main", "billing", "reports"].entries()) {
      const result = report.servers[i]!;
      const allure = results.get(`Nightly verification of ${name}`)!;
      expect(allure.attachments.map((a) => [a.name, a.type])).toEqual([
        ["summary", "text/plain"],
        ["nightly result", "application/json"],
        ["Barman commands", "text/plain"],
        ["freshness", "application/json"],
      ]);
      const content = async (attachment: string): Promise<string> =>
        readFile(join(resultsDir, allure.attachments.find((a) => a.name === attachment)!.source), "utf8");
      expect(await content("summary")).toBe(renderNightlySummary(result));
      expect(JSON.parse(await content("nightly result"))).toEqual(JSON.parse(JSON.stringify(result)));
      expect(JSON.parse(await content("freshness"))).toEqual(result.freshness);
      const transcript = await content("Barman commands");
      for (const c of result.barmanCommands) expect(transcript).toContain(c.command);
    }
  });

  test("the mask reaches every file written", async () => {
    const maskedDir = join(dir, "allure-masked");
    writeFleetAllureResults(report, maskedDir, { mask: (text) => text.replaceAll("barman-prod", "***") });
    const files = await readdir(maskedDir);
    expect(files.length).toBe(3 + 3 * 4);
    for (const f of files) expect(await readFile(join(maskedDir, f), "utf8"), f).not.toContain("barman-prod");
  });

  test(
    "allure generate reads them, two shards' results into one report",
    async () => {
      const shard2 = join(dir, "allure-night1-shard2");
      writeFleetAllureResults(
        { ...report, shard: "2/2", barman: "container barman-dr", servers: [server("archive", { barman: "container barman-dr" })] },
        shard2,
      );
      const output = await allureGenerate("night1", [resultsDir, shard2], join(dir, "history.jsonl"));
      const summary = JSON.parse(await readFile(join(output, "summary.json"), "utf8"));
      expect(summary.stats).toMatchObject({ total: 4, passed: 2, failed: 1, broken: 1 });
      const generated = await Promise.all(
        (await readdir(join(output, "data", "test-results"))).map(async (f) => JSON.parse(await readFile(join(output, "data", "test-results", f), "utf8"))),
      );
      expect(generated.map((r) => r.fullName).sort()).toEqual([
        "pgdrill.nightly/container barman-dr/archive",
        `pgdrill.nightly/${BARMAN}/billing`,
        `pgdrill.nightly/${BARMAN}/main`,
        `pgdrill.nightly/${BARMAN}/reports`,
      ]);
      const billing = generated.find((r) => r.name === "Nightly verification of billing");
      expect(billing.steps.filter((s: { type: string }) => s.type === "step").map((s: { name: string }) => s.name.split(":")[0])).toEqual([
        "verify",
        "restore",
        "transfer",
        "start",
        "checks",
      ]);
      expect(billing.steps.filter((s: { type: string }) => s.type === "attachment").map((s: { link: { missed: boolean } }) => s.link.missed)).toEqual([
        false,
        false,
        false,
        false,
      ]);
    },
    ALLURE_GENERATE_BUDGET_MS,
  );

  test(
    "the next night's results continue the same history: same test case and history id whatever the backup",
    async () => {
      const night2 = join(dir, "allure-night2");
      writeFleetAllureResults(fleet(NIGHT_2), night2);
      const second = await readResults(night2);
      for (const [name, first] of results) {
        expect(second.get(name)!.parameters.find((p) => p.name === "backup id")!.value).not.toBe(first.parameters.find((p) => p.name === "backup id")!.value);
        expect(second.get(name)!.uuid).not.toBe(first.uuid);
        expect(second.get(name)!.testCaseId).toBe(first.testCaseId);
      }
      // Allure's own history file, after a report of each night: each server under the same history id.
      const historyPath = join(dir, "history-nights.jsonl");
      await allureGenerate("history-night1", [resultsDir], historyPath);
      await allureGenerate("history-night2", [night2], historyPath);
      const points = (await readFile(historyPath, "utf8"))
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { testResults: Record<string, { name: string }> });
      expect(points).toHaveLength(2);
      const byServer = (point: (typeof points)[number]): Record<string, string> =>
        Object.fromEntries(Object.entries(point.testResults).map(([historyId, r]) => [r.name, historyId]));
      expect(Object.keys(byServer(points[0]!))).toHaveLength(3);
      expect(byServer(points[1]!)).toEqual(byServer(points[0]!));
    },
    ALLURE_GENERATE_BUDGET_MS * 2,
  );
});

describe("a failed run that verified no server", () => {
  const empty: FleetReport = { ...fleet(NIGHT_1), servers: [] };

  test("is one failure in JUnit, not an empty suite CI would count as green", async () => {
    const path = join(dir, "junit", "empty.xml");
    await mkdir(join(dir, "junit"), { recursive: true });
    await writeFile(path, renderFleetJunit(empty));
    expect(runNode([COUNTER, path]).stdout.trim().split("\n").at(-1)).toBe("0 passed, 1 failed");
    expect(renderFleetJunit({ ...empty, verdict: "pass" })).not.toContain("<testcase");
  });

  test("is one failed Allure result", async () => {
    const resultsDir = join(dir, "allure-empty");
    expect(writeFleetAllureResults(empty, resultsDir).map((w) => w.status)).toEqual(["failed"]);
    const [result] = (await readResults(resultsDir)).values();
    expect(result).toMatchObject({ status: "failed", statusDetails: { message: `the run verified no server of the Barman ${BARMAN} (shard 1/1)` } });
  });
});
