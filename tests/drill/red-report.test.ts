// The report a team reads on the night recovery fails, proven: a Scenario 12 drill made red on
// purpose (PGDRILL_TEST_FAULT=wal-gap: a WAL segment the target needs removed from Barman's archive
// after the disaster), run in a second checkout of this project as a team member's clone would run
// it, then `npm run report` there. The drill must fail at step 6 naming the segment, with steps 7
// to 12 skipped; the report must be built and its browser check must pass on the red content (the
// failed step, its cause, its evidence, the skipped steps and why, the counts), so the command
// exits 0; a report that does not show the cause must make the same check exit 1, and no results
// at all must make `npm run report` exit 1.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, inject } from "vitest";
import { readSettings } from "../../src/drill/config.ts";
import { orderedScenario } from "../../src/suite/ordered-steps.ts";
import { readResults } from "../report/allure-results.ts";

const run = inject("drillRun");
const settings = readSettings();
const say = (line: string): void => console.log(`[red-report ${run.runId}] ${line}`);
const PROJECT = resolve(import.meta.dirname, "../..");

interface Ran {
  code: number | null;
  output: string;
}

/** A command in the second checkout, as a person runs it there: its own environment, not this test worker's. */
function runIn(directory: string, argv: string[], env: Record<string, string> = {}): Promise<Ran> {
  // Vitest's worker variables would make the inner Vitest think it is a worker of this run.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("VITEST") && name !== "NODE_OPTIONS"));
  return new Promise((done, fail) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: directory,
      env: { ...clean, PATH: `${join(PROJECT, "node_modules/.bin")}:${process.env["PATH"]}`, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const take = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const line of chunk
        .toString()
        .split("\n")
        .filter((l) => /test fault|✓|×|FAIL|Tests |exited/.test(l)))
        say(`${argv.slice(0, 3).join(" ")}: ${line.trim()}`);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", fail);
    child.on("close", (code) => done({ code, output }));
  });
}

/** The test cases of a JUnit file: name (entities decoded) and whether they passed, failed or were skipped. */
function junitCases(xml: string): Array<{ name: string; outcome: "passed" | "failed" | "skipped" }> {
  const decode = (t: string): string =>
    t.replaceAll("&apos;", "'").replaceAll("&quot;", '"').replaceAll("&gt;", ">").replaceAll("&lt;", "<").replaceAll("&amp;", "&");
  return [...xml.matchAll(/<testcase [^>]*name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => ({
    name: decode(m[1]!),
    outcome: /<(failure|error)\b/.test(m[2] ?? "") ? "failed" : /<skipped\b/.test(m[2] ?? "") ? "skipped" : "passed",
  }));
}

beforeEach(async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("Evidence");
  await allure.story("Report of a red run");
  await allure.parameter("run id", run.runId);
});

describe("npm run report after a red drill (a WAL segment lost from Barman's archive)", () => {
  let clone: string;
  let removedSegment: string | undefined;

  beforeAll(async () => {
    // The checkout as it is (tracked and new files), node_modules shared: a team member's clone.
    clone = await mkdtemp(join(tmpdir(), "pgdrill-red-report-"));
    const copied = await runIn(PROJECT, [
      "bash",
      "-c",
      `git ls-files --cached --others --exclude-standard -z | tar --null --files-from=- -cf - | tar -xf - -C '${clone}'`,
    ]);
    if (copied.code !== 0) throw new Error(`could not copy the checkout: ${copied.output}`);
    await symlink(join(PROJECT, "node_modules"), join(clone, "node_modules"));
  });

  afterAll(async () => {
    if (clone && !settings.keepResources) await rm(clone, { recursive: true, force: true });
  });

  const steps = orderedScenario({ stepTimeoutMs: 10 * 60_000 });

  steps.step("the drill goes red at step 6 naming the removed segment; steps 7 to 12 are skipped, naming step 6", async () => {
    const drill = await runIn(clone, ["vitest", "run", "--project", "drill", "tests/drill/drill.test.ts"], { PGDRILL_TEST_FAULT: "wal-gap" });
    await allure.attachment("the red drill's output", drill.output, "text/plain");
    removedSegment = /pgdrill test fault: WAL segment ([0-9A-F]{24}) removed/.exec(drill.output)?.[1];
    expect(removedSegment, "the fault was injected").toMatch(/^[0-9A-F]{24}$/);
    await allure.parameter("removed WAL segment", removedSegment!);
    expect(drill.code, "the drill's exit code").toBe(1);

    const results = readResults(join(clone, "reports/allure-results"));
    const byStep = new Map(results.map((r) => [Number(/^Step (\d+):/.exec(r.name)?.[1]), r]));
    expect([...byStep.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const n of [1, 2, 3, 4, 5]) expect(byStep.get(n)?.status, `step ${n}`).toBe("passed");
    const failed = byStep.get(6)!;
    expect(failed.status).toBe("failed");
    expect(failed.cause).toMatch(
      new RegExp(`^WAL segments missing from Barman's archive between [0-9A-F]{24} and [0-9A-F]{24} \\(\\d+ checked\\): \\["${removedSegment}"\\]`),
    );
    expect(failed.attachments, "the failed step's evidence").toEqual(expect.arrayContaining(["barman show-backup", "barman.log", "barman commands"]));
    for (const n of [7, 8, 9, 10, 11, 12]) {
      expect(byStep.get(n)?.status, `step ${n}`).toBe("skipped");
      expect(byStep.get(n)?.description, `step ${n}`).toBe(`skipped because an earlier step failed: "${failed.name}"`);
    }
  });

  steps.step("npm run report on the red results: the report is built and its browser check passes on the red content, exit 0", async () => {
    const report = await runIn(clone, ["npm", "run", "report"]);
    await allure.attachment("npm run report", report.output, "text/plain");
    expect(report.code, report.output.slice(-3000)).toBe(0);
    const cases = junitCases(await readFile(join(clone, "reports/junit-report.xml"), "utf8"));
    const red = cases.filter((c) => c.name.startsWith("A red run's report shows what happened > "));
    // The red checks ran and passed (a skipped check would pass without looking).
    expect(red.map((c) => c.outcome)).toEqual(["passed", "passed", "passed"]);
    expect(red[0]?.name).toMatch(/> the overview says Failed before any percentage, the quality gate failed/);
    expect(red[1]?.name).toMatch(/> failed: 'Step 6: backup verified/);
    expect(red[2]?.name).toMatch(/> a step skipped after a failure says which step stopped it$/);
    expect(cases.filter((c) => c.outcome === "failed")).toEqual([]);
    const screenshot = join(clone, "reports/report-failed-step.png");
    expect(existsSync(screenshot), "a screenshot of the failed step").toBe(true);
    // Read now: the clone is removed before the reporter would copy a path.
    await allure.attachment("the failed step as the report shows it", await readFile(screenshot), "image/png");
  });

  steps.step("the same check on a report that does not show the cause (the segment's name taken out of it): exit 1, saying so", async () => {
    // The report's own data for the failed step, with the segment's name replaced: the report then
    // shows a cause that is not the run's, and the check must say it does not show the real one.
    const data = join(clone, "reports/allure-report/data/test-results");
    let tampered = 0;
    for (const file of await readdir(data)) {
      const text = await readFile(join(data, file), "utf8");
      if (!text.includes(removedSegment!)) continue;
      await writeFile(join(data, file), text.replaceAll(removedSegment!, "FFFFFFFFFFFFFFFFFFFFFFFF"));
      tampered++;
    }
    expect(tampered, "report data files naming the segment").toBeGreaterThan(0);
    // Only the failed step's check: the others look at what was not changed.
    const check = await runIn(clone, ["vitest", "run", "--config", "vitest.report.config.ts", "-t", "shows its status, its cause sentence"]);
    await allure.attachment("the browser check on the tampered report", check.output, "text/plain");
    expect(check.code).toBe(1);
    expect(check.output).toMatch(/the report does not show the cause sentence 'WAL segments missing from Barman's archive/);
  });

  steps.step("npm run report with no results to make a report from: exit 1, saying so", async () => {
    await rm(join(clone, "reports/allure-results"), { recursive: true, force: true });
    const report = await runIn(clone, ["npm", "run", "report"]);
    await allure.attachment("npm run report without results", report.output, "text/plain");
    expect(report.code).toBe(1);
    expect(report.output).toMatch(
      /report: could not be made: no test results in reports\/allure-results: run the drill \(npm run drill\) or the suite \(npm test\) first/,
    );
  });
});
