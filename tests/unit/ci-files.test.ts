// The CI files are code that never runs here, so they are checked here: the GitHub workflow against
// SchemaStore's workflow schema (action-validator, bundled in @action-validator/core), the GitLab
// file against GitLab's own CI schema (bundled in gitlab-ci-local, which also evaluates its rules),
// and both for running the README's commands and keeping what the README says they keep.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { parse } from "yaml";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WORKFLOW = join(ROOT, ".github/workflows/dr-drill.yml");
const GITLAB = join(ROOT, ".gitlab-ci.yml");
// Both CLIs run on the project's Node (gitlab-ci-local needs Node 22 or later).
const ACTION_VALIDATOR = join(ROOT, "node_modules/@action-validator/cli/cli.mjs");
const GITLAB_CI_LOCAL = join(ROOT, "node_modules/gitlab-ci-local/dist/index.js");
const README_COMMANDS = ["npm run drill", "npm test", "npm run report", "npm run lint"];

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});
const scratchDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "pgdrill-ci-files-"));
  scratch.push(dir);
  return dir;
};

function actionValidator(path: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [ACTION_VALIDATOR, path], { encoding: "utf8" });
  return { status: r.status, output: r.stdout + r.stderr };
}

/**
 * gitlab-ci-local on a copy of a .gitlab-ci.yml in a scratch git repository (it writes a state
 * directory next to the file and reads git): the jobs, and whether each would run, for `variables`.
 */
function gitlabJobs(
  yamlText: string,
  variables: Record<string, string> = {},
): { status: number | null; output: string; jobs: Array<{ name: string; when: string }> } {
  const dir = scratchDir();
  writeFileSync(join(dir, ".gitlab-ci.yml"), yamlText);
  spawnSync("git", ["init", "--quiet", dir]);
  const args = [GITLAB_CI_LOCAL, "--list-json", "--json-schema-validation", ...Object.entries(variables).flatMap(([k, v]) => ["--variable", `${k}=${v}`])];
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: "utf8" });
  const json = /^\[[\s\S]*\]\s*$/m.exec(r.stdout)?.[0];
  return { status: r.status, output: r.stdout + r.stderr, jobs: r.status === 0 && json ? JSON.parse(json) : [] };
}

describe("GitHub Actions workflow (.github/workflows/dr-drill.yml)", () => {
  test("passes the workflow schema", () => {
    const result = actionValidator(WORKFLOW);
    expect(result.output).toBe("");
    expect(result.status).toBe(0);
  });

  test("the validator rejects a broken workflow (it is really checking)", () => {
    const dir = scratchDir();
    const broken = join(dir, "broken.yml");
    writeFileSync(broken, readFileSync(WORKFLOW, "utf8").replace("runs-on:", "runs_on:"));
    const result = actionValidator(broken);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/runs_on/);
  });

  test("runs the README's commands, the report and lint also after a failure, and keeps the evidence and the RTO history", () => {
    const workflow = parse(readFileSync(WORKFLOW, "utf8"));
    const steps: Array<{ run?: string; uses?: string; if?: string; with?: Record<string, string> }> = workflow.jobs.drill.steps;
    expect(steps.filter((s) => s.run).map((s) => s.run)).toEqual(README_COMMANDS);
    for (const command of ["npm run report", "npm run lint"]) expect(steps.find((s) => s.run === command)?.if).toBe("always()");
    const save = steps.find((s) => s.uses?.startsWith("actions/cache/save@"));
    expect(save?.if, "the RTO history is saved also when the drill failed").toBe("always()");
    expect(save?.with?.["path"]).toBe("reports/history");
    const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
    for (const kept of ["reports/allure-results", "reports/allure-report", "reports/junit.xml", "reports/recovery-metrics.json"])
      expect(upload?.with?.["path"]).toContain(kept);
    expect(workflow.jobs.drill.env.PGDRILL_BASE_IMAGE).toBe("debian:{suite}-slim");
  });
});

describe("GitLab CI (.gitlab-ci.yml)", () => {
  const text = readFileSync(GITLAB, "utf8");

  test("passes GitLab's CI schema; merge requests run the gate, schedules the nightly job (and the real server's verification once named)", () => {
    const mergeRequest = gitlabJobs(text, { CI_PIPELINE_SOURCE: "merge_request_event" });
    expect(mergeRequest.output).toMatch(/json schema validated/);
    expect(mergeRequest.status).toBe(0);
    expect(mergeRequest.jobs.map((j) => [j.name, j.when])).toEqual([
      ["drill", "on_success"],
      ["nightly", "never"],
      ["verify-existing", "never"],
    ]);
    const schedule = gitlabJobs(text, { CI_PIPELINE_SOURCE: "schedule" });
    expect(schedule.jobs.map((j) => [j.name, j.when])).toEqual([
      ["drill", "never"],
      ["nightly", "on_success"],
      ["verify-existing", "never"],
    ]);
    // The real Barman server's verification joins the schedule once its container is named.
    const withBarman = gitlabJobs(text, { CI_PIPELINE_SOURCE: "schedule", PGDRILL_BARMAN_CONTAINER: "barman" });
    expect(withBarman.jobs.find((j) => j.name === "verify-existing")?.when).toBe("on_success");
  });

  test("the schema check rejects a broken file (it is really checking)", () => {
    const result = gitlabJobs(text.replace("expire_in: 30 days", "expire_in: 30 days\n    retention: forever"));
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/retention/);
  });

  test("docker:dind as the engine, the README's commands, JUnit as a report, Allure kept, the RTO history cached also on failure", () => {
    const ci = parse(text);
    expect(ci.variables.DOCKER_HOST).toBe("tcp://docker:2375");
    const job = ci[".drill-job"];
    expect(job.services.map((s: { name: string; alias: string }) => [s.name.split(":")[0], s.alias])).toEqual([["docker", "docker"]]);
    const script: string = ci.drill.script.join("\n");
    for (const command of README_COMMANDS) expect(script).toContain(`${command} || status=1`);
    expect(ci.nightly.variables.PGDRILL_FAIL_ON_RTO_REGRESSION).toBe("1");
    expect(job.artifacts.reports.junit).toEqual(["reports/junit.xml", "reports/junit-report.xml"]);
    expect(job.artifacts.when).toBe("always");
    expect(job.artifacts.paths).toEqual(expect.arrayContaining(["reports/allure-results/", "reports/allure-report/"]));
    expect(job.cache).toMatchObject({ paths: ["reports/history/"], when: "always" });
  });
});
