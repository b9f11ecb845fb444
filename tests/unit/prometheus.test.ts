// The Prometheus output of the nightly verification (src/nightly/prometheus.ts): the rendered text
// read line by line, and linted by the real promtool (scripts/setup-prometheus.sh installs it).
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FleetReport } from "../../src/nightly/fleet-report.ts";
import { type NightlyResult, noEvidence, unknownFreshness } from "../../src/nightly/nightly-result.ts";
import { NIGHTLY_METRIC_NAMES, readSamples, renderNightlyMetrics, writeNightlyTextfile, writeTextfileAtomically } from "../../src/nightly/prometheus.ts";

const BARMAN = "SSH barman@backup-1";

/** A server that passed: every phase ran, every time known. */
function passingServer(server: string, finishedAt: string): NightlyResult {
  return {
    verdict: "pass",
    startedAt: "2026-11-25T02:00:00.000Z",
    finishedAt,
    mode: "full WAL replay",
    postgresMajor: 17,
    freshness: {
      measuredAt: "2026-11-25T02:00:00.000Z",
      backupEndTime: "2026-11-24T22:00:00.000Z",
      backupAgeS: 14_400,
      newestWalTime: "2026-11-25T01:59:30.000Z",
      newestWalAgeS: 30,
      recoveryPointTime: "2026-11-25T01:59:28.500Z",
      recoveryPointAgeS: 31.5,
      recoveryPointSource: "pg_last_committed_xact",
    },
    transferredBytes: 46_137_344,
    barman: BARMAN,
    server,
    backupId: "20261124T220000",
    backupEndTime: "2026-11-24T22:00:00.000Z",
    backupSizeBytes: 44_040_192,
    target: { kind: "latest" },
    workDirectory: "/var/tmp/pgdrill-verify-abc",
    phasesMs: { verifyBackupMs: 1200, barmanRecoverMs: 2500, transferMs: 1800, instanceStartUntilPromotedMs: 900, verificationMs: 350 },
    totalMs: 7000,
    checks: [
      { name: "orders", kind: "query", ok: true, expected: [[60004]], actual: [[60004]], durationMs: 12 },
      { name: "pg_amcheck", kind: "amcheck", ok: true, expected: [], actual: [], durationMs: 300 },
    ],
    problems: [],
    failedPhase: undefined,
    interrupted: false,
    barmanCommands: [],
    ...noEvidence(),
  };
}

/** A server that failed at the instance start: no transfer size, no recovery point, later phases absent, one check failed. */
function failingServer(server: string, finishedAt: string): NightlyResult {
  const base = passingServer(server, finishedAt);
  return {
    ...base,
    verdict: "fail",
    freshness: { ...base.freshness, recoveryPointTime: null, recoveryPointAgeS: null, recoveryPointSource: null },
    transferredBytes: null,
    phasesMs: { verifyBackupMs: 1100, barmanRecoverMs: 2400, transferMs: null, instanceStartUntilPromotedMs: null, verificationMs: null },
    totalMs: 4000,
    checks: [{ name: "orders", kind: "query", ok: false, expected: [[60004]], actual: null, error: "relation does not exist", durationMs: 3 }],
    problems: ["instance start: the recovered instance did not start"],
    failedPhase: "instance start",
  };
}

function fleet(servers: NightlyResult[]): FleetReport {
  return {
    schemaVersion: 2,
    runId: "nightly-20261125",
    startedAt: "2026-11-25T02:00:00.000Z",
    finishedAt: "2026-11-25T02:05:00.000Z",
    barman: BARMAN,
    verdict: servers.every((s) => s.verdict === "pass") ? "pass" : "fail",
    shard: "1/1",
    servers,
  };
}

const NIGHT_1_END = "2026-11-24T02:03:00.000Z";
const NIGHT_2_END = "2026-11-25T02:04:00.000Z";
const unix = (iso: string): number => Date.parse(iso) / 1000;

/** The value of one sample, found by its metric name and its exact labels; undefined when absent. */
function sampleValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  const matches = readSamples(text, name).filter((s) => JSON.stringify(s.labels) === JSON.stringify(labels));
  expect(matches.length, `${name}${JSON.stringify(labels)} appears more than once`).toBeLessThanOrEqual(1);
  return matches[0]?.value;
}

/** promtool check metrics on `text`: its exit code and everything it said. */
function promtool(text: string): { status: number | null; output: string } {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (run.error) {
    throw new Error(`promtool could not be run (${run.error.message}); install it with 'bash scripts/setup-prometheus.sh' (Debian package prometheus)`);
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

describe("renderNightlyMetrics: one server passed, one failed", () => {
  const night2 = fleet([passingServer("main-db", NIGHT_2_END), failingServer("analytics", NIGHT_2_END)]);
  let text = "";
  beforeAll(async () => {
    text = await renderNightlyMetrics(night2);
  });
  const main = { server: "main-db", barman: BARMAN };
  const analytics = { server: "analytics", barman: BARMAN };

  test("every metric has HELP, is a gauge, is named pgdrill_nightly_* in base units, and no counter suffix", () => {
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
    expect(families.map((f) => f.name)).toEqual(NIGHTLY_METRIC_NAMES);
    for (const { name, type } of families) {
      expect(type, name).toBe("gauge");
      expect(name).toMatch(/^pgdrill_nightly_[a-z_]+$/);
      expect(name).not.toMatch(/_total$|_ms$|_milliseconds$|_kb$|_mb$/);
      expect(text, name).toMatch(new RegExp(`^# HELP ${name} \\S.{20,}$`, "m"));
    }
  });

  test("run, success and last success per server, labelled server and barman", () => {
    expect(sampleValue(text, "pgdrill_nightly_success", main)).toBe(1);
    expect(sampleValue(text, "pgdrill_nightly_success", analytics)).toBe(0);
    expect(sampleValue(text, "pgdrill_nightly_last_run_timestamp_seconds", main)).toBe(unix(NIGHT_2_END));
    expect(sampleValue(text, "pgdrill_nightly_last_run_timestamp_seconds", analytics)).toBe(unix(NIGHT_2_END));
    expect(sampleValue(text, "pgdrill_nightly_last_success_timestamp_seconds", main)).toBe(unix(NIGHT_2_END));
    // No previous textfile: a server that has never passed has no last success at all (not 0).
    expect(sampleValue(text, "pgdrill_nightly_last_success_timestamp_seconds", analytics)).toBeUndefined();
    expect(text).toContain('pgdrill_nightly_success{server="main-db",barman="SSH barman@backup-1"} 1\n');
  });

  test("phase durations in seconds for the phases that ran, the whole duration, sizes and check counts", () => {
    const phases = (labels: Record<string, string>) =>
      readSamples(text, "pgdrill_nightly_phase_duration_seconds")
        .filter((s) => s.labels["server"] === labels["server"])
        .map((s) => [s.labels["phase"], s.value]);
    expect(phases(main)).toEqual([
      ["verify", 1.2],
      ["restore", 2.5],
      ["transfer", 1.8],
      ["start", 0.9],
      ["checks", 0.35],
    ]);
    expect(phases(analytics)).toEqual([
      ["verify", 1.1],
      ["restore", 2.4],
    ]);
    expect(sampleValue(text, "pgdrill_nightly_duration_seconds", main)).toBe(7);
    expect(sampleValue(text, "pgdrill_nightly_backup_size_bytes", main)).toBe(44_040_192);
    expect(sampleValue(text, "pgdrill_nightly_transferred_bytes", main)).toBe(46_137_344);
    expect(sampleValue(text, "pgdrill_nightly_checks", main)).toBe(2);
    expect(sampleValue(text, "pgdrill_nightly_checks_failed", main)).toBe(0);
    expect(sampleValue(text, "pgdrill_nightly_checks", analytics)).toBe(1);
    expect(sampleValue(text, "pgdrill_nightly_checks_failed", analytics)).toBe(1);
  });

  test("freshness as ages and as timestamps; what is not known is left out, never 0", () => {
    expect(sampleValue(text, "pgdrill_nightly_backup_age_seconds", main)).toBe(14_400);
    expect(sampleValue(text, "pgdrill_nightly_wal_age_seconds", main)).toBe(30);
    expect(sampleValue(text, "pgdrill_nightly_recovery_point_age_seconds", main)).toBe(31.5);
    expect(sampleValue(text, "pgdrill_nightly_recovery_point_timestamp_seconds", main)).toBe(unix("2026-11-25T01:59:28.500Z"));
    expect(sampleValue(text, "pgdrill_nightly_backup_end_timestamp_seconds", main)).toBe(unix("2026-11-24T22:00:00.000Z"));
    expect(sampleValue(text, "pgdrill_nightly_newest_wal_timestamp_seconds", main)).toBe(unix("2026-11-25T01:59:30.000Z"));
    expect(sampleValue(text, "pgdrill_nightly_wal_age_seconds", analytics)).toBe(30);
    for (const name of [
      "pgdrill_nightly_recovery_point_age_seconds",
      "pgdrill_nightly_recovery_point_timestamp_seconds",
      "pgdrill_nightly_transferred_bytes",
    ]) {
      expect(sampleValue(text, name, analytics), name).toBeUndefined();
    }
    expect(text).not.toMatch(/NaN|Inf/);
  });

  test("the backup id only in the _info metric, with the major version and the mode", () => {
    expect(sampleValue(text, "pgdrill_nightly_backup_info", { ...main, backup_id: "20261124T220000", postgres_major: "17", mode: "full WAL replay" })).toBe(1);
    const withBackupId = text.split("\n").filter((line) => line.includes("backup_id="));
    expect(withBackupId.length).toBe(2);
    expect(withBackupId.every((line) => line.startsWith("pgdrill_nightly_backup_info{"))).toBe(true);
  });

  test("a server with no backup selected has no _info metric and no backup figures", async () => {
    const none: NightlyResult = {
      ...failingServer("empty", NIGHT_2_END),
      backupId: undefined,
      postgresMajor: undefined,
      backupSizeBytes: undefined,
      backupEndTime: undefined,
      freshness: unknownFreshness("2026-11-25T02:00:00.000Z"),
      phasesMs: { verifyBackupMs: null, barmanRecoverMs: null, transferMs: null, instanceStartUntilPromotedMs: null, verificationMs: null },
      checks: [],
    };
    const lines = (await renderNightlyMetrics(fleet([none]))).split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(lines).toEqual([
      `pgdrill_nightly_last_run_timestamp_seconds{server="empty",barman="SSH barman@backup-1"} ${unix(NIGHT_2_END)}`,
      'pgdrill_nightly_success{server="empty",barman="SSH barman@backup-1"} 0',
      'pgdrill_nightly_duration_seconds{server="empty",barman="SSH barman@backup-1"} 4',
      'pgdrill_nightly_checks{server="empty",barman="SSH barman@backup-1"} 0',
      'pgdrill_nightly_checks_failed{server="empty",barman="SSH barman@backup-1"} 0',
      // A state set: the backup's files were not reached, which is "not verified", never "damaged".
      'pgdrill_nightly_backup_verification{server="empty",barman="SSH barman@backup-1",state="verified",reason=""} 0',
      'pgdrill_nightly_backup_verification{server="empty",barman="SSH barman@backup-1",state="damaged",reason=""} 0',
      'pgdrill_nightly_backup_verification{server="empty",barman="SSH barman@backup-1",state="not_verified",reason="not_reached"} 1',
    ]);
  });

  test("promtool check metrics accepts the text without a single lint problem", () => {
    expect(promtool(text)).toEqual({ status: 0, output: "" });
  });

  test("promtool is a real check: it rejects a counter suffix on a gauge and a broken label", () => {
    const suffixed = text.replaceAll("pgdrill_nightly_checks_failed", "pgdrill_nightly_checks_failed_total");
    const lint = promtool(suffixed);
    expect(lint.status).not.toBe(0);
    expect(lint.output).toContain('pgdrill_nightly_checks_failed_total non-counter metrics should not have "_total" suffix');
    const broken = promtool(text.replace('server="main-db"', 'server="main-db'));
    expect(broken.status).not.toBe(0);
    expect(broken.output).toContain("text format parsing error");
  });
});

describe("renderNightlyMetrics: the last success is carried forward from the previous text", () => {
  test("a server that fails tonight keeps the last success found in the previous text; one that passes gets tonight's", async () => {
    const night1 = await renderNightlyMetrics(fleet([passingServer("main-db", NIGHT_1_END), passingServer("analytics", NIGHT_1_END)]));
    const night2 = await renderNightlyMetrics(fleet([passingServer("main-db", NIGHT_2_END), failingServer("analytics", NIGHT_2_END)]), night1);
    const lastSuccess = "pgdrill_nightly_last_success_timestamp_seconds";
    expect(sampleValue(night2, lastSuccess, { server: "main-db", barman: BARMAN })).toBe(unix(NIGHT_2_END));
    expect(sampleValue(night2, lastSuccess, { server: "analytics", barman: BARMAN })).toBe(unix(NIGHT_1_END));
    expect(sampleValue(night2, "pgdrill_nightly_last_run_timestamp_seconds", { server: "analytics", barman: BARMAN })).toBe(unix(NIGHT_2_END));

    // A third night that fails again still carries night 1's success (read from night 2's text).
    const night3 = await renderNightlyMetrics(fleet([failingServer("analytics", "2026-11-26T02:04:00.000Z")]), night2);
    expect(sampleValue(night3, lastSuccess, { server: "analytics", barman: BARMAN })).toBe(unix(NIGHT_1_END));
    expect(promtool(night3)).toEqual({ status: 0, output: "" });
  });

  test("only the same server on the same Barman endpoint is carried, labels in any order, a timestamp after the value allowed", async () => {
    const previous = [
      "# a hand-written previous file",
      'pgdrill_nightly_last_success_timestamp_seconds{barman="container barman",server="analytics"} 1700000000',
      `pgdrill_nightly_last_success_timestamp_seconds{barman="${BARMAN}",server="main-db"} 1700000001 1700000001000`,
      'pgdrill_nightly_last_success_timestamp_seconds_other{server="analytics",barman="SSH barman@backup-1"} 1',
      'pgdrill_nightly_last_success_timestamp_seconds{server="broken} 5',
    ].join("\n");
    const text = await renderNightlyMetrics(fleet([failingServer("analytics", NIGHT_2_END), failingServer("main-db", NIGHT_2_END)]), previous);
    expect(sampleValue(text, "pgdrill_nightly_last_success_timestamp_seconds", { server: "analytics", barman: BARMAN })).toBeUndefined();
    expect(sampleValue(text, "pgdrill_nightly_last_success_timestamp_seconds", { server: "main-db", barman: BARMAN })).toBe(1700000001);
  });
});

describe("label values are escaped, and read back unescaped", () => {
  test("a backslash, a double quote and a newline in server and barman", async () => {
    const server = 'db "quoted"\\path\nnext';
    const barman = "container barman\\1";
    const night1 = await renderNightlyMetrics(fleet([{ ...passingServer(server, NIGHT_1_END), barman }]));
    expect(night1).toContain('pgdrill_nightly_success{server="db \\"quoted\\"\\\\path\\nnext",barman="container barman\\\\1"} 1\n');
    expect(promtool(night1)).toEqual({ status: 0, output: "" });
    const night2 = await renderNightlyMetrics(fleet([{ ...failingServer(server, NIGHT_2_END), barman }]), night1);
    expect(sampleValue(night2, "pgdrill_nightly_last_success_timestamp_seconds", { server, barman })).toBe(unix(NIGHT_1_END));
  });
});

describe("the textfile for node_exporter", () => {
  let directory = "";
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "pgdrill-textfile-"));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  test("replaced by a rename (a new inode), readable by all, no temporary file left behind", async () => {
    const path = join(directory, "pgdrill_nightly.prom");
    await writeFile(path, "old\n", { mode: 0o600 });
    const before = await stat(path);
    await writeTextfileAtomically(path, "new\n");
    const after = await stat(path);
    expect(await readFile(path, "utf8")).toBe("new\n");
    expect(after.ino).not.toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o644);
    expect(await readdir(directory)).toEqual(["pgdrill_nightly.prom"]);
  });

  test("a directory that does not exist: the error names the path, nothing is written", async () => {
    const path = join(directory, "missing", "pgdrill_nightly.prom");
    await expect(writeTextfileAtomically(path, "x\n")).rejects.toThrow(join(directory, "missing"));
  });

  test("writeNightlyTextfile reads the previous file for the carry-forward", async () => {
    const path = join(directory, "fleet.prom");
    await writeNightlyTextfile(path, fleet([passingServer("analytics", NIGHT_1_END)]));
    const written = await writeNightlyTextfile(path, fleet([failingServer("analytics", NIGHT_2_END)]));
    expect(await readFile(path, "utf8")).toBe(written);
    expect(sampleValue(written, "pgdrill_nightly_last_success_timestamp_seconds", { server: "analytics", barman: BARMAN })).toBe(unix(NIGHT_1_END));
    expect(sampleValue(written, "pgdrill_nightly_success", { server: "analytics", barman: BARMAN })).toBe(0);
  });
});
