// The nightly verification as a team runs it against a real backup host: one Barman container
// reached only over SSH on 127.0.0.1 (never docker exec: Docker's event log is the witness), holding
// a PostgreSQL 15 and a PostgreSQL 17 server with their primaries. The sales-pg15 backup is damaged
// on disk; billing-pg17 is healthy. `npm run verify:existing -- --all-servers` verifies both in
// parallel: one passes (every archived WAL segment replayed, pg_amcheck, a full pg_dump, freshness
// from pg_last_committed_xact()), one fails in backup verification with Barman's words; exit 1; the
// JSON, JUnit, Allure results, the Prometheus textfile (promtool-clean) and a real Pushgateway all
// show both. Then: Ctrl-C in the middle of a restore over SSH, and a shard whose backup is older than
// its freshness objective. Each ends clearly, and leaves nothing on the Barman host or in Docker.
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, inject } from "vitest";
import { type FleetServerName, startTwoServerBarmanHost, type TwoServerBarmanHost } from "../../fixtures/fleet-host.ts";
import { readSettings } from "../../src/drill/config.ts";
import type { FleetReport } from "../../src/nightly/fleet-report.ts";
import { readSamples } from "../../src/nightly/prometheus.ts";
import { orderedScenario } from "../../src/suite/ordered-steps.ts";
import { execsDuring } from "../support/docker-events.ts";
import { barmanSshArgs, type CliRun, runNightlyCli } from "../support/nightly-cli.ts";
import { leftoverThrowaways, workDirectoriesOnBarman } from "../support/nightly-evidence.ts";
import { type RunningPushgateway, startPushgateway } from "../support/pushgateway-process.ts";
import { startVerificationHost } from "../support/verification-host.ts";

const run = inject("drillRun");
const settings = readSettings();
const say = (line: string): void => console.log(`[nightly-fleet ${run.runId}] ${line}`);
/** The freshness objective the healthy server is held to: everything was made minutes ago. */
const ONE_HOUR_S = 3600;

beforeEach(async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("Nightly verification of an existing Barman server");
  await allure.story("Every server of a Barman host over SSH");
  await allure.parameter("run id", run.runId);
});

describe("Nightly verification of every server of a Barman host reached over SSH (PostgreSQL 15 and 17, one backup damaged)", () => {
  let host: TwoServerBarmanHost;
  let gateway: RunningPushgateway;
  let work: string;
  const file = (name: string): string => join(work, name);

  /** The CLI with the host's SSH access and this test's output files; `extra` says what to verify. */
  const verify = (extra: string[], onStderrLine?: Parameters<typeof runNightlyCli>[1]["onStderrLine"]): Promise<CliRun> =>
    runNightlyCli(
      [
        ...barmanSshArgs(host.ssh),
        "--config",
        file("fleet.config.ts"),
        "--report",
        file("nightly.json"),
        "--junit",
        file("nightly-junit.xml"),
        "--allure-results",
        file("allure-results"),
        "--prometheus-textfile",
        file("pgdrill_nightly.prom"),
        "--pushgateway",
        gateway.url,
        ...extra,
      ],
      { say, onStderrLine },
    );
  const report = async (): Promise<FleetReport> => JSON.parse(await readFile(file("nightly.json"), "utf8")) as FleetReport;
  const byServer = (r: FleetReport, server: FleetServerName) => r.servers.find((s) => s.server === server);
  const pushed = async (metric: string): Promise<Record<string, number>> =>
    Object.fromEntries(readSamples(await (await fetch(`${gateway.url}/metrics`)).text(), metric).map((s) => [s.labels["server"], s.value]));
  const nothingLeft = async (): Promise<void> => {
    expect(await workDirectoriesOnBarman(host.env), "temporary directories on the Barman host").toEqual([]);
    expect(await leftoverThrowaways(), "throwaway instances in Docker").toEqual([]);
  };
  const attach = async (what: string, cli: CliRun): Promise<void> => {
    await allure.attachment(`CLI ${what}: stdout`, cli.stdout, "text/plain");
    await allure.attachment(`CLI ${what}: stderr`, cli.stderr, "text/plain");
  };

  beforeAll(async () => {
    [host, gateway] = await Promise.all([startTwoServerBarmanHost(run, settings, say), startPushgateway()]);
    work = await mkdtemp(join(tmpdir(), "pgdrill-nightly-fleet-"));
    const { "sales-pg15": sales, "billing-pg17": billing } = host.servers;
    // The configuration as a team writes it for a fleet: each server its own database, checks and objectives.
    const config = {
      name: "nightly verification of the backup host",
      // Speed is the benchmark's business (npm run bench:nightly): on two busy cores a restore may
      // take longer than the drill's default RTO objectives, which would turn these steps red for the wrong reason.
      objectives: { rtoBarmanRecoverS: 600, rtoInstanceStartS: 600, rtoVerificationS: 600, rtoTotalS: 1800 },
      nightly: {
        servers: {
          [sales.serverName]: {
            database: sales.database,
            checks: [{ name: "sales orders at the end of the archive", sql: sales.countSql, expected: [[sales.rows.atEndOfArchive]] }],
            recoveryPointQuery: `SELECT max(ordered_at) FROM ${sales.table}`,
            // Missed too, but a damaged backup is what to look at first: failedPhase stays the verification's.
            freshness: { maxBackupAgeS: 1 },
          },
          [billing.serverName]: {
            database: billing.database,
            checks: [{ name: "invoices at the end of the archive", sql: billing.countSql, expected: [[billing.rows.atEndOfArchive]] }],
            amcheck: true,
            pgDump: true,
            freshness: { maxBackupAgeS: ONE_HOUR_S, maxWalAgeS: ONE_HOUR_S, maxRecoveryPointAgeS: ONE_HOUR_S },
          },
        },
      },
    };
    await writeFile(file("fleet.config.ts"), `export default ${JSON.stringify(config, null, 2)};\n`);
    say(`fixture up in ${(host.timingsMs.total / 1000).toFixed(1)} s; Pushgateway at ${gateway.url}`);
  });

  afterAll(async () => {
    await gateway?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    if (host && !settings.keepResources) await host.stop();
  });

  const steps = orderedScenario({ stepTimeoutMs: 10 * 60_000 });

  steps.step(
    "--all-servers verifies both servers in parallel over SSH: PostgreSQL 17 passes, the damaged PostgreSQL 15 backup fails with Barman's words, exit 1",
    async () => {
      const damaged = await host.damageBackup("sales-pg15");
      await allure.parameter("damaged", `${damaged.backupId}: ${damaged.file} cut to one page`);
      const { result: cli, execs } = await execsDuring(host.env.barmanServer.getId(), () => verify(["--all-servers", "--concurrency", "2"]));
      await attach("all servers", cli);

      expect(cli.code, cli.stderr).toBe(1);
      expect(execs, "docker exec on the Barman container during the run").toEqual([]);
      const r = await report();
      await allure.attachment("nightly report", JSON.stringify(r, null, 2), "application/json");
      expect([r.schemaVersion, r.verdict, r.shard, r.servers.map((s) => [s.server, s.verdict, s.postgresMajor])]).toEqual([
        2,
        "fail",
        "1/1",
        [
          ["billing-pg17", "pass", 17],
          ["sales-pg15", "fail", 15],
        ],
      ]);

      const billing = byServer(r, "billing-pg17")!;
      expect(billing.problems).toEqual([]);
      expect(billing.mode).toBe("full WAL replay");
      expect(billing.checks.map((c) => [c.kind, c.ok])).toEqual([
        ["query", true],
        ["amcheck", true],
        ["pg_dump", true],
      ]);
      expect(billing.freshness.recoveryPointSource).toBe("pg_last_committed_xact");
      for (const age of [billing.freshness.backupAgeS, billing.freshness.newestWalAgeS, billing.freshness.recoveryPointAgeS]) {
        expect(age).toBeGreaterThanOrEqual(0);
        expect(age).toBeLessThan(ONE_HOUR_S);
      }
      expect(billing.transferredBytes).toBeGreaterThan(0);

      const sales = byServer(r, "sales-pg15")!;
      expect(sales.failedPhase).toBe("backup verification");
      expect(sales.problems.map((p) => p.split(" ")[0])).toEqual(["backup", "freshness"]);
      expect(sales.problems[0]).toContain(`backup verification failed for backup ${damaged.backupId} of server 'sales-pg15'`);
      // pg_verifybackup's own words, through Barman: the damaged file and its sizes.
      expect(sales.problems[0]).toMatch(new RegExp(`"${damaged.file.split("/data/").at(-1)}" has size 8192 on disk but size \\d+ in the manifest`));
      // In parallel: each server's verification began before the other's ended.
      expect(Date.parse(billing.startedAt)).toBeLessThan(Date.parse(sales.finishedAt));
      expect(Date.parse(sales.startedAt)).toBeLessThan(Date.parse(billing.finishedAt));

      expect(cli.stdout).toMatch(/^Nightly verification of Barman server 'billing-pg17' \(SSH barman@127\.0\.0\.1 port \d+\): PASS$/m);
      expect(cli.stdout).toMatch(/^Nightly verification of Barman server 'sales-pg15' \(SSH barman@127\.0\.0\.1 port \d+\): FAIL$/m);
      expect(cli.stdout).toMatch(/^2 server\(s\) verified in shard 1\/1: 1 passed, 1 failed$/m);
      await nothingLeft();
    },
  );

  steps.step("the JUnit file, the Allure results, the Prometheus textfile (promtool) and the Pushgateway each show both servers", async () => {
    const counted = spawnSync(process.execPath, ["scripts/count-results.mjs", file("nightly-junit.xml")], { encoding: "utf8" });
    const countedLines = counted.stdout.trim().split("\n");
    expect(countedLines.at(-1)).toBe("1 passed, 1 failed");
    expect(countedLines.slice(0, -1)).toEqual([expect.stringMatching(/^FAILED .*sales-pg15.*: \S/)]);
    const results = (await readdir(file("allure-results"))).filter((f) => f.endsWith("-result.json"));
    const statuses = await Promise.all(
      results.map(async (f) => {
        const result = JSON.parse(await readFile(join(file("allure-results"), f), "utf8")) as { name: string; status: string };
        return `${result.name}: ${result.status}`;
      }),
    );
    expect(statuses.sort()).toEqual(["Nightly verification of billing-pg17: passed", "Nightly verification of sales-pg15: failed"]);

    const textfile = await readFile(file("pgdrill_nightly.prom"), "utf8");
    await allure.attachment("Prometheus textfile", textfile, "text/plain");
    const lint = spawnSync("promtool", ["check", "metrics"], { input: textfile, encoding: "utf8" });
    expect([lint.status, `${lint.stdout}${lint.stderr}`]).toEqual([0, ""]);
    const inFile = (metric: string): Record<string, number> => Object.fromEntries(readSamples(textfile, metric).map((s) => [s.labels["server"], s.value]));
    expect(inFile("pgdrill_nightly_success")).toEqual({ "billing-pg17": 1, "sales-pg15": 0 });
    expect(Object.keys(inFile("pgdrill_nightly_last_success_timestamp_seconds"))).toEqual(["billing-pg17"]);

    expect(await pushed("pgdrill_nightly_success")).toEqual({ "billing-pg17": 1, "sales-pg15": 0 });
    expect(Object.keys(await pushed("pgdrill_nightly_last_success_timestamp_seconds"))).toEqual(["billing-pg17"]);
  });

  steps.step(
    "a verification host of the user's own: barman restore --remote-ssh-command puts the copy there, not on the Barman host; it verifies, and nothing is left on either",
    async () => {
      const verificationHost = await startVerificationHost(host.env, host.ssh);
      const cli = await verify([
        "--servers",
        "billing-pg17",
        "--verification-host",
        verificationHost.ssh.destination,
        "--verification-host-port",
        String(verificationHost.ssh.port),
        "--remote-ssh-command",
        verificationHost.remoteSshCommand,
      ]);
      await attach("verification host", cli);
      expect(cli.code, cli.stderr).toBe(0);
      const [billing] = (await report()).servers;
      expect([billing?.verdict, billing?.mode]).toEqual(["pass", "full WAL replay"]);
      const commands = billing!.barmanCommands.map((c) => c.command);
      expect(commands.find((c) => / restore /.test(c))).toContain(`--remote-ssh-command ${verificationHost.remoteSshCommand}`);
      // The temporary directory was made, streamed and removed on the verification host.
      for (const verb of ["mktemp -d", "tar -C", "rm -rf"]) {
        expect(
          commands.find((c) => c.includes(verb)),
          verb,
        ).toMatch(/^\[the verification host \(SSH postgres@127\.0\.0\.1 port \d+\)\] /);
      }
      expect(await verificationHost.leftovers(), "temporary directories on the verification host").toEqual([]);
      await nothingLeft();
    },
  );

  steps.step("Ctrl-C while barman restores over SSH: exit 130, the temporary directory removed from the Barman host, no throwaway left", async () => {
    let signalled = false;
    const cli = await verify(["--servers", "billing-pg17"], (line, child) => {
      // While barman restore writes into the temporary directory on the host: the worst moment to leave.
      if (!signalled && /barman recover: Starting (local )?restore/.test(line)) {
        signalled = true;
        child.kill("SIGINT");
      }
    });
    await attach("interrupted", cli);
    expect(signalled, "the CLI reached barman restore").toBe(true);
    expect(cli.code).toBe(130);
    expect(cli.stdout).toContain("interrupted (SIGINT) before this phase");
    expect((await report()).servers.map((s) => [s.server, s.interrupted])).toEqual([["billing-pg17", true]]);
    await nothingLeft();
  });

  steps.step("a shard whose backup is older than its freshness objective fails in one sentence; the Pushgateway keeps the last success", async () => {
    const lastSuccess = (await pushed("pgdrill_nightly_last_success_timestamp_seconds"))["billing-pg17"];
    // Shard 1 of 2 of [billing-pg17, sales-pg15], sorted: billing-pg17 alone.
    const cli = await verify(["--all-servers", "--shard", "1/2", "--max-backup-age", "1s"]);
    await attach("stale backup", cli);
    expect(cli.code, cli.stderr).toBe(1);
    const r = await report();
    expect(r.servers.map((s) => [s.server, s.mode, s.failedPhase])).toEqual([["billing-pg17", "full WAL replay", "freshness"]]);
    expect(r.servers[0]!.problems).toEqual([
      expect.stringMatching(
        /^freshness failed for backup \d{8}T\d{6} of server 'billing-pg17', target end of the archived WAL \(no target\): backup \S+ \(ended .*\) is .*s old, older than the objective maxBackupAgeS = 1s \(1 s\)$/,
      ),
    ]);
    expect(cli.stdout).toMatch(/^1 server\(s\) verified in shard 1\/2: 0 passed, 1 failed$/m);
    expect(await pushed("pgdrill_nightly_success")).toMatchObject({ "billing-pg17": 0 });
    expect((await pushed("pgdrill_nightly_last_success_timestamp_seconds"))["billing-pg17"]).toBe(lastSuccess);
    await nothingLeft();
  });
});
