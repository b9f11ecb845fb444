// The CI files are code that never runs here, so they are checked here: the GitHub workflow against
// SchemaStore's workflow schema (action-validator, bundled in @action-validator/core), the GitLab
// file against GitLab's own CI schema (bundled in gitlab-ci-local, which also evaluates its rules),
// and both for running the README's commands and keeping what the README says they keep.
// The scheduling examples a team copies (examples/nightly-scheduling/) likewise: the GitHub workflow
// by the same schema, the systemd units by systemd's own parser (systemd-analyze verify, which works
// without a running systemd), the cron line by sh's parser and a run with a stand-in npm; and all
// three call only options that verify:existing's --help lists, so they cannot drift from the CLI.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { VERIFY_HELP } from "../../src/cli/verify-command-line.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WORKFLOW = join(ROOT, ".github/workflows/dr-drill.yml");
const GITLAB = join(ROOT, ".gitlab-ci.yml");
const README = join(ROOT, "README.md");
// Both CLIs run on the project's Node (gitlab-ci-local needs Node 22 or later).
const ACTION_VALIDATOR = join(ROOT, "node_modules/@action-validator/cli/cli.mjs");
const GITLAB_CI_LOCAL = join(ROOT, "node_modules/gitlab-ci-local/dist/index.js");
const README_COMMANDS = ["npm run drill", "npm test", "npm run report", "npm run lint"];
/** What the README tells a non-root user to run once before npm test (setup.sh installs it only as root). */
const NON_ROOT_PREREQUISITE = "sudo bash scripts/setup-prometheus.sh";
/** gitlab-ci-local and `allure generate` take 1-2 s a run on an idle machine; a backstop for one whose two cores are busy. */
const TOOL_RUN_BUDGET_MS = 60_000;

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
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: "utf8", timeout: TOOL_RUN_BUDGET_MS });
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
    // The one step besides the README's commands is the README's own line for a non-root user (the runner's).
    expect(steps.filter((s) => s.run).map((s) => s.run)).toEqual([README_COMMANDS[0], NON_ROOT_PREREQUISITE, ...README_COMMANDS.slice(1)]);
    expect(readFileSync(README, "utf8")).toContain(NON_ROOT_PREREQUISITE);
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

  test(
    "passes GitLab's CI schema; merge requests run the gate, schedules the nightly job (and the real server's verification once named)",
    () => {
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
    },
    3 * TOOL_RUN_BUDGET_MS,
  );

  test(
    "the schema check rejects a broken file (it is really checking)",
    () => {
      const result = gitlabJobs(text.replace("expire_in: 30 days", "expire_in: 30 days\n    retention: forever"));
      expect(result.status).not.toBe(0);
      expect(result.output).toMatch(/retention/);
    },
    TOOL_RUN_BUDGET_MS,
  );

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

const SCHEDULING = join(ROOT, "examples/nightly-scheduling");
const NIGHTLY_WORKFLOW = join(SCHEDULING, "github-nightly.yml");
const NIGHTLY_SERVICE = join(SCHEDULING, "pgdrill-nightly.service");
const NIGHTLY_TIMER = join(SCHEDULING, "pgdrill-nightly.timer");
const NIGHTLY_CRONTAB = join(SCHEDULING, "crontab");

/**
 * The options verify:existing's --help lists (src/cli/verify-command-line.ts): each option line
 * starts with the option (and any alias), its description follows after two spaces.
 */
function helpOptions(): Set<string> {
  return new Set([...VERIFY_HELP.matchAll(/^ +(--[a-z].*?)(?: {2,}|$)/gm)].flatMap(([, column]) => column!.match(/--[a-z][a-z0-9-]*/g) ?? []));
}

/** The options a command line gives verify:existing: what follows `verify:existing --`, up to a redirection, pipe or next command. */
function verifyExistingOptions(commandLine: string): string[] {
  const start = commandLine.indexOf("verify:existing -- ");
  if (start < 0) throw new Error(`no "npm run verify:existing -- ..." in: ${commandLine}`);
  const args = commandLine.slice(start + "verify:existing -- ".length).split(/[;|>]|&&/)[0]!;
  return args.match(/(?<=^|\s)--[a-z][a-z0-9-]*/g) ?? [];
}

/** A systemd unit file as systemd reads it: sections of key/value pairs; comments, blank lines and backslash continuations handled. */
function readUnit(path: string): Map<string, Array<[string, string]>> {
  const sections = new Map<string, Array<[string, string]>>();
  let section: Array<[string, string]> | undefined;
  for (const line of readFileSync(path, "utf8").replace(/\\\n/g, " ").split("\n")) {
    const text = line.trim();
    if (text === "" || text.startsWith("#") || text.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(text);
    if (header) {
      section = [];
      sections.set(header[1]!, section);
    } else if (!section) throw new Error(`${path}: "${text}" before any [Section]`);
    else section.push([text.slice(0, text.indexOf("=")).trim(), text.slice(text.indexOf("=") + 1).trim()]);
  }
  return sections;
}
const unitValues = (unit: Map<string, Array<[string, string]>>, section: string, key: string): string[] =>
  (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);

function systemdAnalyze(args: string[]): { status: number | null; output: string } {
  const r = spawnSync("systemd-analyze", args, { encoding: "utf8" });
  if (r.error) throw new Error(`systemd-analyze could not run (${r.error.message}); on Debian: apt-get install systemd (it needs no running systemd)`);
  return { status: r.status, output: r.stdout + r.stderr };
}

/** The crontab's job lines (not comments, not VAR=value settings) as their 5 time fields and the command. */
function cronJobs(text: string): Array<{ fields: string[]; command: string }> {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trim().startsWith("#") && !/^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(line.trim()))
    .map((line) => {
      const job = /^((?:\S+\s+){4}\S+)\s+(.*)$/.exec(line.trim());
      return { fields: (job?.[1] ?? line.trim()).split(/\s+/), command: job?.[2] ?? "" };
    });
}

/** Whether a cron time field is valid for its range: *, numbers, names, ranges, steps and lists of them (crontab(5)). */
function cronFieldValid(field: string, min: number, max: number, names: string[] = []): boolean {
  const value = (v: string): number => (names.includes(v.toLowerCase()) ? names.indexOf(v.toLowerCase()) + min : /^\d+$/.test(v) ? Number(v) : Number.NaN);
  return field.split(",").every((item) => {
    const m = /^(\*|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:\/(\d+))?$/i.exec(item);
    if (!m) return false;
    const [, , from, to, step] = m;
    if (step !== undefined && !(Number(step) >= 1 && Number(step) <= max)) return false;
    if (from === undefined) return true;
    const a = value(from);
    const b = to === undefined ? a : value(to);
    return a >= min && b <= max && a <= b;
  });
}

describe("every scheduling example calls only options verify:existing lists (examples/nightly-scheduling/)", () => {
  const service = readUnit(NIGHTLY_SERVICE);
  const cron = cronJobs(readFileSync(NIGHTLY_CRONTAB, "utf8"));
  const workflow = parse(readFileSync(NIGHTLY_WORKFLOW, "utf8"));
  const workflowRuns: string[] = workflow.jobs.verify.steps.flatMap((s: { run?: string }) => (s.run?.includes("verify:existing") ? [s.run] : []));
  const examples: Array<[string, string[]]> = [
    ["pgdrill-nightly.service", unitValues(service, "Service", "ExecStart")],
    ["crontab", cron.map((job) => job.command)],
    ["github-nightly.yml", workflowRuns],
  ];

  test("the check is really checking: it reads the option lines of HELP only, and an option HELP does not list is caught", () => {
    const listed = helpOptions();
    expect(listed).toContain("--barman-ssh");
    expect(listed).not.toContain("--experimental-transform-types");
    expect(verifyExistingOptions("npm run verify:existing -- --all-servers --no-such-option x >> log 2>&1; echo --not-its-option")).toEqual([
      "--all-servers",
      "--no-such-option",
    ]);
  });

  test.each(examples)("%s", (_name, commandLines) => {
    expect(commandLines).toHaveLength(1);
    const used = verifyExistingOptions(commandLines[0]!);
    expect(used).toContain("--all-servers");
    const listed = helpOptions();
    expect(
      used.filter((option) => !listed.has(option)),
      `options not in scripts/verify-existing.ts's HELP (it lists ${[...listed].join(" ")})`,
    ).toEqual([]);
  });
});

describe("GitHub Actions nightly example (examples/nightly-scheduling/github-nightly.yml)", () => {
  const text = readFileSync(NIGHTLY_WORKFLOW, "utf8");
  const workflow = parse(text);
  type Step = { name?: string; run?: string; uses?: string; if?: string; env?: Record<string, string>; with?: Record<string, string | boolean> };
  const verifySteps: Step[] = workflow.jobs.verify.steps;
  const reportSteps: Step[] = workflow.jobs.report.steps;

  test("passes the workflow schema", () => {
    const result = actionValidator(NIGHTLY_WORKFLOW);
    expect(result.output).toBe("");
    expect(result.status).toBe(0);
  });

  test("the validator rejects a broken copy (it is really checking)", () => {
    const broken = join(scratchDir(), "github-nightly.yml");
    writeFileSync(broken, text.replace("runs-on: [self-hosted, barman-net]", "runs_on: [self-hosted, barman-net]"));
    const result = actionValidator(broken);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/runs_on/);
  });

  test("nightly and by hand, one night at a time; every shard of 1..N on a self-hosted runner by the Barman host, --shard i/N", () => {
    expect(Object.keys(workflow.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    expect(workflow.concurrency).toMatchObject({ group: expect.any(String), "cancel-in-progress": false });
    const verify = workflow.jobs.verify;
    expect(verify["runs-on"]).toEqual(["self-hosted", "barman-net"]);
    expect(verify.strategy["fail-fast"]).toBe(false);
    const shards: number[] = verify.strategy.matrix.shard;
    expect(shards).toEqual(shards.map((_, i) => i + 1));
    const run = verifySteps.find((s) => s.run?.includes("verify:existing"))!.run!;
    expect(run).toMatch(/^npm run verify:existing -- /);
    expect(run).toContain(`--shard \${{ matrix.shard }}/${shards.length}`);
    expect(verifySteps.findIndex((s) => s.run === "npm ci")).toBeLessThan(verifySteps.findIndex((s) => s.run === run));
  });

  test("the SSH key and known_hosts come from secrets through the environment into 0600 files; no secret or variable is expanded into a script", () => {
    for (const step of [...verifySteps, ...reportSteps]) expect(step.run ?? "").not.toMatch(/\$\{\{\s*(secrets|vars)\./);
    const keys = verifySteps.find((s) => Object.values(s.env ?? {}).some((v) => v.includes("secrets.BARMAN_SSH_KEY")))!;
    expect(keys.run).toMatch(/umask 077/);
    expect(keys.run).toMatch(/chmod 0600 .*id_barman.*known_hosts/);
    expect(keys.run).not.toMatch(/set -x|echo|cat /);
    const run = verifySteps.find((s) => s.run?.includes("verify:existing"))!.run!;
    expect(run).toMatch(/--ssh-identity "\$RUNNER_TEMP\/barman-ssh\/id_barman"/);
    expect(run).toMatch(/--ssh-known-hosts "\$RUNNER_TEMP\/barman-ssh\/known_hosts"/);
  });

  test("each shard keeps its Allure results and JSON also when it failed; the report job merges every shard's into one Allure report", () => {
    const run = verifySteps.find((s) => s.run?.includes("verify:existing"))!.run!;
    const upload = verifySteps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
    expect(upload.if).toBe("always()");
    expect(upload.with?.["path"]).toContain("reports/allure-results");
    const report = /--report (\S+)/.exec(run)?.[1];
    expect(upload.with?.["path"]).toContain(report);
    expect(workflow.jobs.report).toMatchObject({ needs: "verify", if: "always()" });
    const download = reportSteps.find((s) => s.uses?.startsWith("actions/download-artifact@"))!;
    expect(download.with).toMatchObject({ path: "reports", "merge-multiple": true });
    // download-artifact's pattern (a glob) takes every shard's artifact.
    const pattern = new RegExp(
      `^${String(download.with?.["pattern"])
        .replaceAll(/[^\w*-]/g, "\\$&")
        .replaceAll("*", ".*")}$`,
    );
    const shards: number[] = workflow.jobs.verify.strategy.matrix.shard;
    for (const shard of shards) expect(String(upload.with?.["name"]).replace(/\$\{\{ matrix\.shard \}\}/, String(shard))).toMatch(pattern);
    expect(reportSteps.find((s) => s.run?.includes("scripts/report.mjs"))?.run).toMatch(/&& node scripts\/report\.mjs$/);
    expect(reportSteps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))).toMatchObject({
      if: "always()",
      with: { path: expect.stringContaining("reports/allure-report") },
    });
  });

  /** The report job's own step on two shards' results, merged as download-artifact's merge-multiple does. */
  function reportJobOn(statuses: ["passed" | "failed", "passed" | "failed"]): { status: number | null; stdout: string; summary: { stats: object } } {
    const dir = scratchDir();
    for (const [i, status] of statuses.entries()) {
      const shard = i + 1;
      const results = join(dir, `artifact-${shard}`, "allure-results");
      mkdirSync(results, { recursive: true });
      const uuid = randomUUID();
      writeFileSync(
        join(results, `${uuid}-result.json`),
        JSON.stringify({
          uuid,
          historyId: `server-${shard}`,
          name: `server pg-${shard}`,
          fullName: `nightly: pg-${shard}`,
          status,
          ...(status === "failed" ? { statusDetails: { message: "WAL segments missing from Barman's archive: 000000010000000000000007" } } : {}),
          stage: "finished",
          start: 1,
          stop: 2,
          labels: [],
        }),
      );
      // As download-artifact's merge-multiple does: every artifact's files into the one path.
      cpSync(join(dir, `artifact-${shard}`), join(dir, "reports"), { recursive: true });
    }
    cpSync(join(ROOT, "allurerc.mjs"), join(dir, "allurerc.mjs"));
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    cpSync(join(ROOT, "scripts/report.mjs"), join(dir, "scripts/report.mjs"));
    const generate = reportSteps.find((s) => s.run?.includes("scripts/report.mjs"))!.run!;
    const r = spawnSync("bash", ["-c", generate], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env["PATH"]}`, npm_config_offline: "true" },
      timeout: TOOL_RUN_BUDGET_MS,
    });
    expect(r.status, r.stdout + r.stderr).not.toBeNull();
    return { status: r.status, stdout: r.stdout + r.stderr, summary: JSON.parse(readFileSync(join(dir, "reports/allure-report/summary.json"), "utf8")) };
  }

  test(
    "the report job's merge works: two shards' results downloaded into one directory give one report of both, its quality gate passed",
    () => {
      const run = reportJobOn(["passed", "passed"]);
      expect(run.status, run.stdout).toBe(0);
      expect(run.summary.stats).toMatchObject({ total: 2, passed: 2 });
      expect(run.stdout).toContain("quality gate passed (2 results)");
    },
    TOOL_RUN_BUDGET_MS,
  );

  test(
    "a red night's report is still made (exit 0), with its quality gate failed: the report's header says Failed",
    () => {
      const run = reportJobOn(["passed", "failed"]);
      expect(run.status, run.stdout).toBe(0);
      expect(run.summary.stats).toMatchObject({ total: 2, passed: 1, failed: 1 });
      expect(run.stdout).toContain("quality gate FAILED");
    },
    TOOL_RUN_BUDGET_MS,
  );
});

// systemd-analyze comes with Debian's systemd package and verifies unit files offline (no running
// systemd needed; this machine has none). There is no systemd on other platforms.
describe.skipIf(process.platform !== "linux")("systemd units (examples/nightly-scheduling/pgdrill-nightly.service, .timer)", () => {
  const service = readUnit(NIGHTLY_SERVICE);
  const timer = readUnit(NIGHTLY_TIMER);
  const one = (unit: Map<string, Array<[string, string]>>, section: string, key: string): string => {
    const values = unitValues(unit, section, key);
    expect(values, `[${section}] ${key}=`).toHaveLength(1);
    return values[0]!;
  };

  test("systemd-analyze verify finds nothing to say (an unknown key or a bad value is a warning, so the output must be empty)", () => {
    const result = systemdAnalyze(["verify", "--man=no", NIGHTLY_SERVICE, NIGHTLY_TIMER]);
    expect(result.output).toBe("");
    expect(result.status).toBe(0);
  });

  test("systemd-analyze verify rejects broken copies (it is really checking)", () => {
    const dir = scratchDir();
    const service = join(dir, "pgdrill-nightly.service");
    const timer = join(dir, "pgdrill-nightly.timer");
    writeFileSync(service, readFileSync(NIGHTLY_SERVICE, "utf8").replace("TimeoutStartSec=", "TimeoutStartSek="));
    writeFileSync(timer, readFileSync(NIGHTLY_TIMER, "utf8").replace(/^OnCalendar=.*$/m, "OnCalendar=*-*-* 27:30:00"));
    const result = systemdAnalyze(["verify", "--man=no", service, timer]);
    expect(result.output).toMatch(/Unknown key 'TimeoutStartSek'/);
    expect(result.output).toMatch(/Failed to parse calendar specification/);
    expect(result.status).not.toBe(0);
  });

  test("hardened: systemd-analyze security rates the service's exposure at most 2.0 (of 10)", () => {
    // --threshold counts in tenths of the printed level: 20 is 2.0.
    const result = systemdAnalyze(["security", "--offline=true", "--threshold=20", "--no-pager", NIGHTLY_SERVICE]);
    expect(result.output).toMatch(/Overall exposure level for pgdrill-nightly\.service: [01]\.\d/);
    expect(result.status).toBe(0);
  });

  test("a bounded oneshot as a dedicated user in the docker group, in the checkout, writing only where it must", () => {
    expect(one(service, "Service", "Type")).toBe("oneshot");
    expect(one(service, "Service", "User")).not.toMatch(/^(root|0)$/);
    expect(unitValues(service, "Service", "SupplementaryGroups").join(" ").split(/\s+/)).toContain("docker");
    const workingDirectory = one(service, "Service", "WorkingDirectory");
    expect(workingDirectory).toMatch(/^\//);
    // TimeoutStartSec as systemd reads it: a time span below a day (a oneshot's default is no limit).
    const timespan = systemdAnalyze(["timespan", one(service, "Service", "TimeoutStartSec")]);
    expect(timespan.status, timespan.output).toBe(0);
    const microseconds = Number(/μs: (\d+)/.exec(timespan.output)?.[1]);
    expect(microseconds).toBeGreaterThan(0);
    expect(microseconds).toBeLessThan(24 * 3600 * 1e6);
    const execStart = one(service, "Service", "ExecStart");
    expect(execStart).toMatch(/^\/usr\/bin\/env npm run verify:existing -- /);
    // The Docker socket (AF_UNIX) and SSH (AF_INET*) stay reachable; Node's JIT needs W+X memory.
    expect(one(service, "Service", "RestrictAddressFamilies").split(/\s+/)).toEqual(expect.arrayContaining(["AF_UNIX", "AF_INET", "AF_INET6"]));
    expect(unitValues(service, "Service", "MemoryDenyWriteExecute")).toEqual([]);
    // Under ProtectSystem=strict only ReadWritePaths= are writable: the reports and the textfile's directory.
    expect(one(service, "Service", "ProtectSystem")).toBe("strict");
    const writable = unitValues(service, "Service", "ReadWritePaths").join(" ").split(/\s+/);
    const textfile = /--prometheus-textfile (\S+)/.exec(execStart)?.[1];
    expect(textfile).toMatch(/\.prom$/);
    expect(writable).toEqual(expect.arrayContaining([join(workingDirectory, "reports"), dirname(textfile!)]));
  });

  test("the timer: at night, persistent across a night the machine was off, with a randomized delay, for this service", () => {
    expect(one(timer, "Timer", "Persistent")).toBe("true");
    expect(systemdAnalyze(["timespan", one(timer, "Timer", "RandomizedDelaySec")]).status).toBe(0);
    expect(one(timer, "Timer", "Unit")).toBe("pgdrill-nightly.service");
    expect(one(timer, "Install", "WantedBy")).toBe("timers.target");
    const calendar = systemdAnalyze(["calendar", "--iterations=1", one(timer, "Timer", "OnCalendar")]);
    expect(calendar.status, calendar.output).toBe(0);
    const hour = Number(/Next elapse: \S+ \S+ (\d{2}):/.exec(calendar.output)?.[1]);
    expect(hour).toBeGreaterThanOrEqual(0);
    expect(hour).toBeLessThan(6);
  });
});

describe("crontab example (examples/nightly-scheduling/crontab)", () => {
  const text = readFileSync(NIGHTLY_CRONTAB, "utf8");
  const jobs = cronJobs(text);

  test("one job: 5 valid time fields at night and a command that sh parses, with no bare % (cron makes it a newline)", () => {
    expect(jobs).toHaveLength(1);
    const { fields, command } = jobs[0]!;
    const [minute, hour, dayOfMonth, month, dayOfWeek] = fields as [string, string, string, string, string];
    expect(fields).toHaveLength(5);
    expect(cronFieldValid(minute, 0, 59), `minute "${minute}"`).toBe(true);
    expect(cronFieldValid(hour, 0, 23), `hour "${hour}"`).toBe(true);
    expect(cronFieldValid(dayOfMonth, 1, 31), `day of month "${dayOfMonth}"`).toBe(true);
    expect(cronFieldValid(month, 1, 12, ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]), `month "${month}"`).toBe(true);
    expect(cronFieldValid(dayOfWeek, 0, 7, ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]), `day of week "${dayOfWeek}"`).toBe(true);
    expect(Number(hour)).toBeLessThan(6);
    expect(command).not.toMatch(/(^|[^\\])%/);
    const syntax = spawnSync("sh", ["-n", "-c", command], { encoding: "utf8" });
    expect(syntax.stderr).toBe("");
    expect(syntax.status).toBe(0);
    // The checker is really checking.
    expect(cronFieldValid("61", 0, 59)).toBe(false);
    expect(cronFieldValid("*/15", 0, 59) && cronFieldValid("mon-fri", 0, 7, ["sun", "mon", "tue", "wed", "thu", "fri", "sat"])).toBe(true);
    expect(spawnSync("sh", ["-n", "-c", `${command} && (`]).status).not.toBe(0);
  });

  test("PATH for npm; run with a stand-in npm: the exit code lands in the log, and a night whose predecessor holds the lock does not start (flock -n)", () => {
    const path = /^PATH=(.*)$/m.exec(text)?.[1]?.split(":");
    expect(path).toEqual(expect.arrayContaining(["/usr/local/bin", "/usr/bin"]));
    const { command } = jobs[0]!;
    const checkout = /^cd (\S+) && /.exec(command)?.[1];
    const lock = /\bflock -n (?:-E \d+ )?(\S+) /.exec(command)?.[1];
    const logs = [...new Set([...command.matchAll(/>> (\S+)/g)].map(([, log]) => log!))];
    expect([checkout, lock, logs]).toEqual([expect.any(String), expect.any(String), [expect.any(String)]]);
    // The job as cron runs it, its paths moved into a scratch directory, npm a stand-in that exits 1.
    const dir = scratchDir();
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin/npm"), '#!/bin/sh\necho "stand-in npm $*"\nexit 1\n', { mode: 0o755 });
    const job = command.replaceAll(checkout!, dir).replaceAll(lock!, join(dir, "nightly.lock")).replaceAll(logs[0]!, join(dir, "nightly.log"));
    const env = { PATH: [join(dir, "bin"), ...path!].join(":"), HOME: dir };
    const log = (): string => readFileSync(join(dir, "nightly.log"), "utf8");

    expect(spawnSync("/bin/sh", ["-c", job], { env }).status).toBe(0);
    expect(log()).toMatch(/^stand-in npm run verify:existing -- --barman-ssh \S+ /m);
    expect(log()).toMatch(/exit 1\n$/);
    // A night still running holds the lock (here: this shell): the next one does not start, and says so.
    spawnSync("/bin/sh", ["-c", `exec 9>"$LOCK"; flock 9; /bin/sh -c "$JOB"`], { env: { ...env, LOCK: join(dir, "nightly.lock"), JOB: job } });
    expect(log().match(/stand-in npm/g)).toHaveLength(1);
    expect(log()).toMatch(/exit 75\n$/);
  });
});

describe("every npm script works as the first command on a fresh clone", () => {
  // Before `npm ci`, a script's `node`, `vitest` or `tsc` is the system's or missing (Debian 12's
  // Node 20 refuses --experimental-transform-types), so each script first makes the pinned Node and
  // the dependencies ready: scripts/setup.sh (which also starts the engine) or scripts/ensure-node.sh.
  // scripts/check-non-root.sh proves it for real: its user's first command is
  // `npm run verify:existing -- --help` in a copy without node_modules, with Debian's Node on PATH.
  const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  test.each(Object.entries(scripts))("npm run %s prepares the project's Node first", (_name, command) => {
    expect(command).toMatch(/^bash scripts\/(setup|ensure-node)\.sh && /);
  });

  test("ensure-node.sh does nothing and says nothing where the pinned Node is already installed", () => {
    const r = spawnSync("bash", [join(ROOT, "scripts/ensure-node.sh")], { encoding: "utf8" });
    expect([r.status, r.stdout, r.stderr]).toEqual([0, "", ""]);
  });
});

test("nothing outside tests/ imports from tests/ (the bench and the scripts use fixtures/, not the test support)", () => {
  const r = spawnSync(
    "git",
    ["grep", "--untracked", "-l", "-E", String.raw`from "(\.\./)+tests/`, "--", "bin", "src", "containers", "fixtures", "bench", "scripts", "examples"],
    {
      cwd: ROOT,
      encoding: "utf8",
    },
  );
  expect(r.stdout.trim().split("\n").filter(Boolean)).toEqual([]);
});
