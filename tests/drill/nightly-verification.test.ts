// Nightly verification of an EXISTING Barman server. The test sets up "the existing server" (a
// Scenario 12 primary and Barman, backup taken after the baseline), then hands the verification
// only what a user would give: the Barman container's name, the server name, the database and the
// checks. It never gets the primary's address or passwords, and the primary's own connection log
// shows it was never contacted.

import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, test } from "vitest";
import { barmanRestoreVerb } from "../../containers/barman/barman-client.ts";
import { runLabels } from "../../containers/docker-resources.ts";
import { readSettings } from "../../src/drill/config.ts";
import { applyConfigToSettings, loadDrillConfig } from "../../src/drill/drill-config.ts";
import { prepareDisaster } from "../../src/engine/gate.ts";
import { type DrillFacts, prepareTopology, resolvePlan } from "../../src/engine/phases.ts";
import { rowDigestSql } from "../../src/engine/row-digest.ts";
import type { DrillEnvironment } from "../../src/engine/topology.ts";
import type { FleetReport } from "../../src/nightly/fleet-report.ts";
import { type NightlyCheck, NightlyInputError, type NightlyResult, type VerifyExistingOptions } from "../../src/nightly/nightly-result.ts";
import { renderNightlySummary } from "../../src/nightly/summary.ts";
import { verifyExistingBackup } from "../../src/nightly/verify-existing.ts";
import { seconds } from "../../src/support/measure.ts";
import { type CliRun, runNightlyCli } from "../support/nightly-cli.ts";
import { leftoverThrowaways, workDirectoriesOnBarman } from "../support/nightly-evidence.ts";

const run = inject("drillRun");
const loaded = await loadDrillConfig({ path: "fixtures/scenario-12.config.ts" });
const settings = applyConfigToSettings(readSettings(), loaded.config);
const plan = await resolvePlan(loaded);
const expectedRows = loaded.config.expect!;
const say = (line: string): void => console.log(`[nightly ${run.runId}] ${line}`);
/** The CLI's Allure results and JUnit file: not the suite's own reports/ (they would join this run's report). */
const outputs = await mkdtemp(join(tmpdir(), "pgdrill-nightly-cli-"));
const REPORT = fileURLToPath(new URL("../../reports/nightly-verification.json", import.meta.url));

/** Checks that hold for the backup taken right after the baseline (recovered to its end). */
const passingChecks = (prepared: DrillFacts): NightlyCheck[] => [
  { name: "orders at the backup", sql: "SELECT count(*) FROM orders", expected: [[expectedRows.baseline!["orders"]]] },
  { name: "users at the backup", sql: "SELECT count(*) FROM users", expected: [[expectedRows.baseline!["users"]]] },
  // The one row digest of the suite: every row, not only the count.
  { name: "orders content", sql: rowDigestSql("orders"), expected: [[prepared.baseline["orders"]!.rows, prepared.baseline["orders"]!.checksum]] },
  // Evidence of isolation, read on the throwaway instance itself.
  { name: "socket only, not archiving", sql: "SELECT current_setting('listen_addresses'), current_setting('archive_mode')", expected: [["", "off"]] },
];
const failingCheck: NightlyCheck = { name: "orders count (wrong expectation)", sql: "SELECT count(*) FROM orders", expected: [[1]] };

/** The primary's "connection authorized" lines (log_connections = on) after `offset` characters of its log. */
async function primaryConnectionsSince(env: DrillEnvironment, offset: number): Promise<string[]> {
  return (await env.primary.serverLog())
    .slice(offset)
    .split("\n")
    .filter((l) => /connection authorized: user=/.test(l));
}

/** The CLI as a scheduler runs it (tests/support/nightly-cli.ts), its Allure results and JUnit file in this test's own folder. */
const runCli = (args: string[], onStderrLine?: (line: string, child: ChildProcess) => void): Promise<CliRun> =>
  runNightlyCli([...args, "--allure-results", join(outputs, "allure-results"), "--junit", join(outputs, "junit.xml")], { say, onStderrLine });

async function attachResult(result: NightlyResult): Promise<string> {
  const summary = renderNightlySummary(result);
  say(`\n${summary}`);
  await allure.attachment("nightly summary", summary, "text/plain");
  await allure.attachment("nightly result", JSON.stringify(result, null, 2), "application/json");
  for (const [phase, ms] of Object.entries(result.phasesMs)) await allure.parameter(phase, ms === null ? "not reached" : seconds(ms));
  return summary;
}

beforeEach(async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("Nightly verification of an existing Barman server");
  await allure.parameter("run id", run.runId);
});

describe("Nightly verification of an existing Barman server (docker exec transport)", () => {
  let env: DrillEnvironment;
  let prepared: DrillFacts;
  let barmanContainer: string;
  let configDir: string;
  let options: (checks: NightlyCheck[]) => VerifyExistingOptions;

  beforeAll(async () => {
    // "The existing server": a primary that logs every connection, so the test can show that the
    // verification never opened one, and a Barman server with a backup taken after the baseline.
    const loggingPlan = { ...plan, primarySettings: { ...plan.primarySettings, log_connections: "on" } };
    env = await prepareTopology(loggingPlan, { name: "nightly-existing", run, settings, progress: say });
    prepared = await prepareDisaster(env, loggingPlan, say);
    barmanContainer = `${env.prefix}-barman`;
    options = (checks) => ({
      barman: { container: barmanContainer },
      server: plan.serverName,
      backup: "latest",
      // The checks below expect the backup's own state: the quicker, backup-only mode.
      target: { kind: "immediate" },
      checks,
      database: plan.database,
      recoveryImage: async () => run.images.postgres,
      runId: run.runId,
      labels: runLabels(run.runId, run.ownerPid),
      budgetsMs: settings.budgetsMs,
      progress: say,
    });
    configDir = await mkdtemp(join(tmpdir(), "pgdrill-nightly-"));
  });

  afterAll(async () => {
    await rm(outputs, { recursive: true, force: true });
    if (configDir) await rm(configDir, { recursive: true, force: true });
    if (env && !settings.keepResources) await env.stop();
  });

  /** A config file as a user writes it for the nightly verification alone: no drill steps. */
  async function writeConfig(file: string, checks: NightlyCheck[]): Promise<string> {
    const path = join(configDir, file);
    const config = {
      name: "nightly verification",
      database: plan.database,
      nightly: { checks },
    };
    await writeFile(path, `export default ${JSON.stringify(config, null, 2)};\n`);
    return path;
  }

  test("the latest backup recovers into a throwaway instance and passes its checks, production untouched", async () => {
    await allure.story("Latest backup verified");
    const logBefore = await env.primary.serverLog();
    // Positive control: the primary does log connections (Barman's and the test's own, at set-up).
    expect(logBefore, "log_connections is on").toMatch(/connection authorized: user=/);
    const logOffset = logBefore.length;
    const result = await verifyExistingBackup(options(passingChecks(prepared)));
    await attachResult(result);

    expect(result.problems).toEqual([]);
    expect(result.verdict).toBe("pass");
    expect(result.backupId, "latest DONE backup").toBe(prepared.backup.backupId);
    expect(result.checks.map((c) => c.ok)).toEqual([true, true, true, true]);
    for (const [phase, ms] of Object.entries(result.phasesMs)) expect(ms, `${phase} measured`).toBeGreaterThan(0);

    expect(result.workDirectory).toMatch(new RegExp(`^/var/tmp/pgdrill-verify-${run.runId}-`));
    expect(await workDirectoriesOnBarman(env), "temporary directory removed from the Barman server").toEqual([]);
    expect(await leftoverThrowaways(), "no throwaway instance left").toEqual([]);

    // On the Barman server: read-only barman commands and a read of its WAL catalogue, barman recover into our own directory, tar and rm of it.
    const verbs = result.barmanCommands.map((c) =>
      c.command
        .split(" ")
        .slice(0, c.command.startsWith("barman -f json") ? 4 : 2)
        .join(" "),
    );
    // `recover` is `restore` from Barman 3.12 on (containers/barman/barman-client.ts).
    const restoreVerb = barmanRestoreVerb(await env.barman.version());
    expect(new Set(verbs)).toEqual(
      new Set([
        "barman --version",
        "barman -f json list-servers",
        "barman -f json list-backup",
        "barman -f json show-backup",
        "barman -f json show-server",
        "tail -n",
        "ls -1A",
        "barman verify-backup",
        // The WAL continuity check, the sweep of dead runs' copies and the run marker.
        "bash -c",
        "mktemp -d",
        "cat --",
        `barman ${restoreVerb}`,
        "tar -C",
        "rm -rf",
        "test -e",
      ]),
    );
    expect(result.barmanCommands.find((c) => c.command.startsWith("rm -rf"))?.command).toBe(`rm -rf -- ${result.workDirectory}`);

    // The production primary: no connection opened while the verification ran, data as the disaster left it.
    const connections = await primaryConnectionsSince(env, logOffset);
    await allure.attachment("primary connections during the verification", connections.join("\n") || "(none)", "text/plain");
    expect(
      connections.filter((l) => !/user=(streaming_)?barman\b/.test(l)),
      "connections to the primary",
    ).toEqual([]);
    expect((await env.primary.one<{ n: number }>("SELECT count(*)::int AS n FROM orders")).n).toBe(expectedRows.afterDisaster!["orders"]);
  });

  test("a check that does not hold turns the verdict red, with expected and actual in the summary", async () => {
    await allure.story("Failing check");
    const result = await verifyExistingBackup({ ...options([passingChecks(prepared)[1]!, failingCheck]), backup: prepared.backup.backupId });
    const summary = await attachResult(result);

    expect(result.verdict).toBe("fail");
    expect(result.checks.map((c) => [c.name, c.ok, c.actual])).toEqual([
      ["users at the backup", true, [[1000]]],
      [failingCheck.name, false, [[expectedRows.baseline!["orders"]]]],
    ]);
    expect([result.failedPhase, result.interrupted]).toEqual(["verification", false]);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toContain(`verification failed for backup ${prepared.backup.backupId} of server '${plan.serverName}'`);
    expect(summary).toMatch(/: FAIL$/m);
    expect(summary).toContain(`${failingCheck.name}: expected [[1]], actual [[60004]]`);
    expect(summary).toContain("Checks: 1 of 2 passed");
    // The phases before the verification still ran and are reported.
    for (const [phase, ms] of Object.entries(result.phasesMs)) expect(ms, `${phase} measured`).toBeGreaterThan(0);
    expect(await workDirectoriesOnBarman(env)).toEqual([]);
    expect(await leftoverThrowaways()).toEqual([]);
  });

  test("by default every WAL segment archived after the backup is replayed (the disaster included), with pg_amcheck and a full pg_dump read, and freshness measured", async () => {
    await allure.story("Full WAL replay (default)");
    const { target: _backupOnly, ...defaults } = options([
      { name: "orders at the end of the archive", sql: "SELECT count(*) FROM orders", expected: [[expectedRows.afterDisaster!["orders"]]] },
      { name: "users at the end of the archive", sql: "SELECT count(*) FROM users", expected: [[expectedRows.afterDisaster!["users"]]] },
    ]);
    const result = await verifyExistingBackup({
      ...defaults,
      builtInChecks: { amcheck: true, pgDump: true },
      recoveryPointQuery: "SELECT max(created_at) FROM users",
      freshness: { maxBackupAgeS: 3600, maxWalAgeS: 3600 },
    });
    await attachResult(result);
    expect(result.problems).toEqual([]);
    expect([result.mode, result.target]).toEqual(["full WAL replay", { kind: "latest" }]);
    expect(result.checks.map((c) => [c.kind, c.ok])).toEqual([
      ["query", true],
      ["query", true],
      ["amcheck", true],
      ["pg_dump", true],
    ]);
    for (const check of result.checks) expect(check.durationMs, `${check.name} timed`).toBeGreaterThan(0);
    const { freshness } = result;
    expect(freshness.backupEndTime).toBe(prepared.backup.endTime.toISOString());
    expect(freshness.backupAgeS).toBeGreaterThan(0);
    // The disaster's segment was the last one archived before this test: the newest is at least as new as the backup.
    expect(new Date(freshness.newestWalTime!).getTime()).toBeGreaterThanOrEqual(prepared.backup.endTime.getTime());
    expect([freshness.recoveryPointSource, freshness.recoveryPointTime]).toEqual(["query", "2025-02-11T16:00:00.000Z"]);
    expect(result.transferredBytes).toBeGreaterThan(prepared.backup.sizeBytes / 2);
    expect(await workDirectoriesOnBarman(env)).toEqual([]);
    expect(await leftoverThrowaways()).toEqual([]);
  });

  test("a backup older than the freshness objective fails the server in one sentence naming its age and the objective", async () => {
    await allure.story("Freshness objective missed");
    const result = await verifyExistingBackup({ ...options(passingChecks(prepared)), freshness: { maxBackupAgeS: 1 } });
    const summary = await attachResult(result);
    expect(
      result.checks.every((c) => c.ok),
      "the data itself verified",
    ).toBe(true);
    expect([result.verdict, result.failedPhase]).toEqual(["fail", "freshness"]);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(
      new RegExp(
        `^freshness failed for backup ${prepared.backup.backupId} of server '${plan.serverName}', .*: backup ${prepared.backup.backupId} \\(ended .*\\) is (\\d+m \\d+s|\\d+m|\\d+s) old, older than the objective maxBackupAgeS = 1s \\(1 s\\)$`,
      ),
    );
    expect(summary).toMatch(/Action: what was verified is older than your freshness objectives/);
  });

  test("a backup that restores correctly but slower than the RTO objectives fails, naming the objective", async () => {
    await allure.story("RTO objective missed");
    const objectives = { ...settings.objectives, rtoBarmanRecoverS: 0.001 };
    const result = await verifyExistingBackup({ ...options(passingChecks(prepared)), objectives });
    const summary = await attachResult(result);
    expect(
      result.checks.every((c) => c.ok),
      "the data itself verified",
    ).toBe(true);
    expect([result.verdict, result.failedPhase]).toEqual(["fail", "objectives"]);
    expect(result.problems[0]).toMatch(
      /RTO phase 'barman recover' took .* over its budget of 0\.001 s \(objectives\.rtoBarmanRecoverS in the configuration, or PGDRILL_RTO_BARMAN_RECOVER_S\)/,
    );
    expect(summary).toMatch(/Action: the backup restored correctly but slower than your RTO objectives/);
    expect(await leftoverThrowaways()).toEqual([]);
  });

  test("a failure after the recovery is reported with PostgreSQL's words and still leaves nothing behind", async () => {
    await allure.story("Recovered instance does not start");
    // A restore point the WAL does not hold: barman recover succeeds, PostgreSQL then stops with FATAL.
    const result = await verifyExistingBackup({ ...options(passingChecks(prepared)), target: { kind: "name", name: "no_such_restore_point" } });
    const summary = await attachResult(result);

    expect(result.verdict).toBe("fail");
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toContain(
      `instance start failed for backup ${prepared.backup.backupId} of server '${plan.serverName}', target restore point 'no_such_restore_point'`,
    );
    expect(result.problems[0]).toMatch(/FATAL: +recovery ended before configured recovery target was reached/);
    expect(result.failedPhase).toBe("instance start");
    expect(summary).toContain("Checks: not run (the verification stopped before them)");
    expect(summary).toContain("Action: PostgreSQL could not recover the copy");
    expect([result.phasesMs.barmanRecoverMs! > 0, result.phasesMs.transferMs! > 0, result.phasesMs.verificationMs]).toEqual([true, true, null]);
    expect(summary).toMatch(/verification \(checks\): +not reached/);
    expect(await workDirectoriesOnBarman(env), "temporary directory removed after the failure").toEqual([]);
    expect(await leftoverThrowaways(), "failed instance removed").toEqual([]);
  });

  test("the CLI exits 0 on a verified backup and 1 on a failing check, printing the summary", async () => {
    await allure.story("Command line");
    const common = ["--barman-container", barmanContainer, "--server", plan.serverName, "--database", plan.database, "--target-immediate"];

    const pass = await runCli([...common, "--backup", prepared.backup.backupId, "--config", await writeConfig("pass.config.ts", passingChecks(prepared))]);
    await allure.attachment("CLI output (pass)", pass.stdout, "text/plain");
    await allure.parameter("CLI pass run", seconds(pass.durationMs));
    expect(pass.code, pass.stderr).toBe(0);
    expect(pass.stdout).toMatch(new RegExp(`^Nightly verification of Barman server '${plan.serverName}' \\(container ${barmanContainer}\\): PASS$`, "m"));
    expect(pass.stdout).toContain("Checks: 4 of 4 passed");
    expect(pass.stdout).toMatch(/barman recover: +\d+\.\d\d s/);
    const passReport = JSON.parse(await readFile(REPORT, "utf8")) as FleetReport;
    expect([passReport.schemaVersion, passReport.verdict, passReport.servers.map((s) => [s.server, s.verdict, s.backupId, s.mode])]).toEqual([
      2,
      "pass",
      [[plan.serverName, "pass", prepared.backup.backupId, "backup only"]],
    ]);

    const fail = await runCli([...common, "--config", await writeConfig("fail.config.ts", [failingCheck])]);
    await allure.attachment("CLI output (fail)", fail.stdout, "text/plain");
    await allure.parameter("CLI fail run", seconds(fail.durationMs));
    expect(fail.code, fail.stderr).toBe(1);
    expect(fail.stdout).toMatch(/: FAIL$/m);
    expect(fail.stdout).toContain(`${failingCheck.name}: expected [[1]], actual [[60004]]`);
    expect((JSON.parse(await readFile(REPORT, "utf8")) as FleetReport).servers[0]?.verdict).toBe("fail");

    expect(await workDirectoriesOnBarman(env)).toEqual([]);
    expect(await leftoverThrowaways(), "the CLI removed its throwaway instances").toEqual([]);
  });

  test("Ctrl-C stops the CLI after the current step and removes what it started (exit 130)", async () => {
    await allure.story("Interrupted run");
    const path = await writeConfig("interrupted.config.ts", passingChecks(prepared));
    let signalled = false;
    const cli = await runCli(["--barman-container", barmanContainer, "--server", plan.serverName, "--target-immediate", "--config", path], (line, child) => {
      // While barman recover writes into the temporary directory: the worst moment to leave.
      if (!signalled && line.includes("barman recover: Starting local restore")) {
        signalled = true;
        child.kill("SIGINT");
      }
    });
    await allure.attachment("CLI output (interrupted)", `${cli.stdout}\n--- stderr ---\n${cli.stderr}`, "text/plain");
    expect(signalled, "the CLI reached barman recover").toBe(true);
    expect(cli.code).toBe(130);
    expect(cli.stdout).toMatch(/: FAIL$/m);
    expect(cli.stdout).toContain("interrupted (SIGINT) before this phase");
    expect(cli.stdout).toContain("Action: the run was interrupted");
    expect(await workDirectoriesOnBarman(env), "temporary directory removed").toEqual([]);
    expect(await leftoverThrowaways()).toEqual([]);
  });

  test("an unknown container or server is refused with one clear line (CLI exit 2)", async () => {
    await allure.story("Wrong connection details");
    const cli = await runCli([
      "--barman-container",
      "pgdrill-no-such-barman",
      "--server",
      plan.serverName,
      "--config",
      await writeConfig("unknown.config.ts", [failingCheck]),
    ]);
    await allure.attachment("CLI stderr (unknown container)", cli.stderr, "text/plain");
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("error: no container named 'pgdrill-no-such-barman' on this Docker engine");
    expect(cli.stdout).toBe("");

    const unknownServer = await verifyExistingBackup({ ...options([failingCheck]), server: "no-such-server" }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(unknownServer).toBeInstanceOf(NightlyInputError);
    expect((unknownServer as Error).message).toBe(
      `Barman in container ${barmanContainer} has no server named 'no-such-server'; its servers: ${plan.serverName}`,
    );
    expect(await leftoverThrowaways()).toEqual([]);
  });
});
