// The nightly verification's judgements without Barman or Docker: the phases of
// src/nightly/backup-phases.ts over a Barman catalogue given as a plain object, and the checks of
// src/nightly/instance-checks.ts over an instance given as one. What Barman and PostgreSQL really
// print is proven by the drill files (nightly-*.test.ts); here, what the pipeline concludes from it.
import { describe, expect, it } from "vitest";
import type { ExecResult } from "../../containers/exec.ts";
import { RecoveredInstanceStartError } from "../../containers/postgres/recovered-instance.ts";
import type { BackupDetails } from "../../src/barman/barman-output.ts";
import { type BarmanCatalogue, judgeArchiveFreshness, selectBackup, verifyBackupFiles, verifyWalContinuity } from "../../src/nightly/backup-phases.ts";
import { type CheckedInstance, judgeRecoveryPoint, runInstanceChecks } from "../../src/nightly/instance-checks.ts";
import { judgeStartedInstance, recordStartFailure } from "../../src/nightly/instance-start.ts";
import { NightlyInputError, notReachedVerification } from "../../src/nightly/nightly-result.ts";
import { VerifyRecord, type VerifyRecordContext } from "../../src/nightly/verify-record.ts";
import { readRecoveryLog } from "../../src/postgres/recovery-log.ts";
import { budget } from "../../src/support/wait.ts";

const STARTED = new Date("2026-12-03T02:00:00Z");

function backupDetails(over: Partial<BackupDetails> = {}): BackupDetails {
  return {
    backupId: "20261202T010000",
    status: "DONE",
    beginTime: new Date("2026-12-02T01:00:00Z"),
    endTime: new Date("2026-12-02T01:05:00Z"),
    beginWal: "000000010000000000000010",
    endWal: "000000010000000000000011",
    beginLsn: "0/10000028",
    endLsn: "0/11000100",
    timeline: 1,
    sizeBytes: 50 * 1048576,
    postgresVersion: 170004,
    backupType: "full",
    parentBackupId: undefined,
    encryption: null,
    ...over,
  };
}

/** A Barman catalogue as a plain object: each method answers what the test gives it, and a test can see what was asked. */
function catalogue(over: Partial<BarmanCatalogue> = {}): BarmanCatalogue & { asked: string[] } {
  const asked: string[] = [];
  const note = (what: string): void => {
    asked.push(what);
  };
  return {
    serverName: "pg17",
    asked,
    listBackups: async () => [
      { backupId: "20261201T010000", status: "DONE", sizeBytes: 1 },
      { backupId: "20261202T010000", status: "DONE", sizeBytes: 1 },
      { backupId: "20261203T010000", status: "FAILED", sizeBytes: 1 },
    ],
    showBackup: async (id: string) => {
      note(`show-backup ${id}`);
      return backupDetails({ backupId: id });
    },
    backupTablespaces: async () => [],
    newestArchivedWal: async () => ({ segment: "000000010000000000000015", archivedAt: new Date("2026-12-03T01:59:00Z") }),
    backupStorage: async () => ({ format: "plain", compression: null, manifest: true }),
    verifyBackupOutcome: async () => {
      note("verify-backup");
      return { outcome: "verified" as const, said: "Backup 20261202T010000 successfully verified", exitCode: 0 };
    },
    installedPgVerifybackup: async () => ["/usr/lib/postgresql/17/bin/pg_verifybackup"],
    walCoverage: async (from: string, through: string) => {
      note(`wal ${from}..${through}`);
      return { from, through, segmentsChecked: 6, missing: [] };
    },
    ...over,
  } as BarmanCatalogue & { asked: string[] };
}

function newRecord(over: Partial<VerifyRecordContext> = {}): VerifyRecord & { said: string[] } {
  const said: string[] = [];
  const record = new VerifyRecord({
    server: "pg17",
    backupWanted: "latest",
    target: { kind: "latest" },
    freshnessObjectives: undefined,
    progress: (line) => said.push(line),
    startedAt: STARTED,
    ...over,
  });
  return Object.assign(record, { said });
}

describe("backup selection", () => {
  it("latest is the newest DONE backup (a newer FAILED one is passed over)", async () => {
    const picked = await selectBackup(catalogue(), "latest");
    expect(typeof picked === "string" ? picked : picked.backupId).toBe("20261202T010000");
  });

  it("no DONE backup: a sentence naming the backups there are and what to look at", async () => {
    const picked = await selectBackup(catalogue({ listBackups: async () => [{ backupId: "20261203T010000", status: "FAILED", sizeBytes: 1 }] }), "latest");
    expect(picked).toBe("server 'pg17' has no DONE backup to verify (backups: 20261203T010000 FAILED); check `barman check pg17` and the backup schedule");
  });

  it("a named backup the server does not have is a wrong request (NightlyInputError), with the newest ids", async () => {
    await expect(selectBackup(catalogue(), "20250101T000000")).rejects.toThrow(NightlyInputError);
    await expect(selectBackup(catalogue(), "20250101T000000")).rejects.toThrow(/no backup '20250101T000000'; newest backups: 20261201T010000, 20261202T010000/);
  });

  it("a named backup that is not DONE cannot be recovered: said, not thrown", async () => {
    expect(await selectBackup(catalogue(), "20261203T010000")).toBe("backup 20261203T010000 of server 'pg17' is FAILED, not DONE: it cannot be recovered");
  });

  it("a backup with tablespaces is refused before barman recover could write to their original paths", async () => {
    await expect(selectBackup(catalogue({ backupTablespaces: async () => ["tbs_fast"] }), "latest")).rejects.toThrow(/has tablespaces \(tbs_fast\)/);
  });
});

describe("freshness from Barman's catalogue", () => {
  it("ages from the run's start; an old backup is NOT FRESH and becomes a freshness problem only after the run", async () => {
    const record = newRecord({ freshnessObjectives: { maxBackupAgeS: 3600, maxWalAgeS: 300 } });
    const newest = await judgeArchiveFreshness(record, catalogue(), backupDetails());
    expect(newest).toBe("000000010000000000000015");
    expect(record.freshness.backupAgeS).toBe(24 * 3600 + 55 * 60);
    expect(record.freshness.newestWalAgeS).toBe(60);
    expect(record.stale).toEqual([
      "backup 20261202T010000 (ended 2026-12-02T01:05:00.000Z) is 1d 55m old, older than the objective maxBackupAgeS = 1h (3600 s)",
    ]);
    expect(record.problems).toEqual([]);
    record.recordStaleness();
    expect(record.failedPhase).toBe("freshness");
  });

  it("an empty WAL archive is not fresh; an unreadable one is said and judged by nobody", async () => {
    const empty = newRecord();
    expect(await judgeArchiveFreshness(empty, catalogue({ newestArchivedWal: async () => undefined }), backupDetails())).toBeUndefined();
    expect(empty.stale).toEqual(["Barman's WAL archive of server 'pg17' is empty"]);
    const unreadable = newRecord();
    await judgeArchiveFreshness(
      unreadable,
      catalogue({ newestArchivedWal: async () => Promise.reject(new Error("xlog.db: Permission denied")) }),
      backupDetails(),
    );
    expect(unreadable.stale).toEqual([]);
    expect(unreadable.said).toContain("the newest archived WAL could not be read: xlog.db: Permission denied");
  });
});

describe("backup verification: never 'damaged' for what is not damage", () => {
  it("a plain backup with a manifest that pg_verifybackup passes: verified by Barman", async () => {
    const record = newRecord();
    expect(await verifyBackupFiles(record, catalogue(), backupDetails(), 17)).toBe(true);
    expect(record.backupVerification).toMatchObject({ verdict: "verified", by: "barman verify-backup" });
    expect(record.verifyCopy).toBeUndefined();
  });

  it("no manifest (rsync): 'not verified', verify-backup not even run, the run goes on", async () => {
    const record = newRecord();
    const barman = catalogue({ backupStorage: async () => ({ format: "plain", compression: null, manifest: false }) });
    expect(await verifyBackupFiles(record, barman, backupDetails(), 15)).toBe(true);
    expect(record.backupVerification).toMatchObject({ verdict: "not verified", reason: "no manifest" });
    expect(record.backupVerification.sentence).toMatch(/barman generate-manifest pg17 20261202T010000/);
    expect(barman.asked).not.toContain("verify-backup");
    expect(record.failedPhase).toBeUndefined();
  });

  it("encrypted: 'not verified (encrypted)', the run goes on to the restore that proves the key", async () => {
    const record = newRecord();
    expect(await verifyBackupFiles(record, catalogue(), backupDetails({ encryption: "gpg" }), 18)).toBe(true);
    expect(record.backupVerification).toMatchObject({ verdict: "not verified", reason: "encrypted" });
  });

  it("pg_verifybackup missing where Barman looks: the copy is checked instead, with the path_prefix to set", async () => {
    const record = newRecord();
    const barman = catalogue({
      verifyBackupOutcome: async () => ({ outcome: "tool missing" as const, said: "pg_verifybackup: command not found", exitCode: 1 }),
    });
    expect(await verifyBackupFiles(record, barman, backupDetails(), 17)).toBe(true);
    expect(record.verifyCopy?.reason).toBe("pg_verifybackup missing");
    expect(record.verifyCopy?.said).toMatch(/path_prefix = "\/usr\/lib\/postgresql\/17\/bin"/);
    expect(record.backupVerification).toEqual(notReachedVerification());
  });

  it("a tar backup pg_verifybackup 17 cannot read: the copy is checked instead, naming the compression", async () => {
    const record = newRecord();
    const barman = catalogue({
      backupStorage: async () => ({ format: "tar", compression: "gzip", manifest: true }),
      verifyBackupOutcome: async () => ({ outcome: "format" as const, said: '"base.tar.gz" is present on disk but not in the manifest', exitCode: 1 }),
    });
    expect(await verifyBackupFiles(record, barman, backupDetails(), 17)).toBe(true);
    expect(record.verifyCopy).toMatchObject({ reason: "format" });
    expect(record.verifyCopy?.said).toMatch(/cannot read a gzip tar backup/);
  });

  it("damage that pg_verifybackup reports: 'damaged', the run stops in backup verification with its words", async () => {
    const record = newRecord();
    const barman = catalogue({
      verifyBackupOutcome: async () => ({
        outcome: "damaged" as const,
        said: 'pg_verifybackup: error: "base/5/16384" has size 8192 on disk but size 16384 in the manifest',
        exitCode: 1,
      }),
    });
    record.backup = backupDetails();
    expect(await verifyBackupFiles(record, barman, record.backup, 17)).toBe(false);
    expect(record.backupVerification.verdict).toBe("damaged");
    expect(record.failedPhase).toBe("backup verification");
    expect(record.problems[0]).toMatch(
      /^backup verification failed for backup 20261202T010000 of server 'pg17', target .*: pg_verifybackup: error: "base\/5\/16384" has size 8192 on disk/,
    );
  });
});

describe("WAL continuity before any restore", () => {
  it("a full replay checks through the newest archived segment on the backup's timeline", async () => {
    const barman = catalogue();
    expect(await verifyWalContinuity(newRecord(), barman, backupDetails(), { kind: "latest" }, "000000010000000000000015")).toBe(true);
    expect(barman.asked).toContain("wal 000000010000000000000010..000000010000000000000015");
  });

  it("an archive that moved to another timeline: checked through the backup's own end, and said", async () => {
    const record = newRecord();
    const barman = catalogue();
    expect(await verifyWalContinuity(record, barman, backupDetails(), { kind: "latest" }, "000000020000000000000015")).toBe(true);
    expect(barman.asked).toContain("wal 000000010000000000000010..000000010000000000000011");
    expect(record.said.join("\n")).toMatch(/continues on timeline 2/);
  });

  it("a target: only the backup's own segments (the replay proves the rest)", async () => {
    const barman = catalogue();
    await verifyWalContinuity(newRecord(), barman, backupDetails(), { kind: "name", name: "before_disaster" }, "000000010000000000000015");
    expect(barman.asked).toContain("wal 000000010000000000000010..000000010000000000000011");
  });

  it("a missing segment fails WAL verification, naming it and what to look at", async () => {
    const record = newRecord();
    const barman = catalogue({
      walCoverage: async (from: string, through: string) => ({ from, through, segmentsChecked: 6, missing: ["000000010000000000000013"] }),
    });
    expect(await verifyWalContinuity(record, barman, backupDetails(), { kind: "latest" }, "000000010000000000000015")).toBe(false);
    expect(record.failedPhase).toBe("WAL verification");
    expect(record.walContinuity?.missing).toEqual(["000000010000000000000013"]);
    expect(record.problems[0]).toMatch(/WAL segment 000000010000000000000013 missing from Barman's archive \(1 of the 6 segments/);
  });
});

describe("the run's record", () => {
  it("an interruption is recorded against the phase it stopped before, once", () => {
    const controller = new AbortController();
    const record = newRecord({ signal: controller.signal });
    expect(record.enter("backup verification")).toBe(false);
    controller.abort("SIGINT");
    expect(record.enter("WAL verification")).toBe(true);
    expect(record.wasInterrupted).toBe(true);
    expect(record.failedPhase).toBe("WAL verification");
    expect(record.problems[0]).toMatch(/interrupted \(SIGINT\) before this phase/);
  });

  it("the first failure sets the failed phase and the cause; later ones add problems only", () => {
    const record = newRecord();
    record.fail("barman recover", "rsync: write failed: No space left on device (28)");
    record.fail("clean-up", "could not remove /var/tmp/x");
    expect(record.failedPhase).toBe("barman recover");
    expect(record.problems).toHaveLength(2);
  });
});

/** An instance as a plain object: SQL answers by pattern, commands by their first word. */
function instance(answers: {
  one?: (sql: string) => Record<string, unknown>;
  rows?: (sql: string) => unknown[][];
  exec?: (argv: string[]) => Partial<ExecResult>;
}): CheckedInstance & { ran: string[][] } {
  const ran: string[][] = [];
  return {
    ran,
    one: async <R extends Record<string, unknown>>(sql: string) => (answers.one ?? (() => ({})))(sql) as R,
    rows: async (sql: string) => (answers.rows ?? (() => []))(sql),
    exec: async (argv: string[]) => {
      ran.push(argv);
      return { command: argv.join(" "), exitCode: 0, stdout: "", stderr: "", durationMs: 1, ...(answers.exec ?? (() => ({})))(argv) };
    },
  };
}

const checkSettings = { database: "shop", dbUser: "postgres", integrityCheck: budget("integrityCheck", 60_000) };

describe("checks in the throwaway instance", () => {
  it("a query check compares rows as JSON: a wrong count fails verification with both values", async () => {
    const record = newRecord();
    const db = instance({ one: () => ({ on: "off" }), rows: () => [[60_103]] });
    await runInstanceChecks(record, db, { ...checkSettings, checks: [{ name: "orders", sql: "SELECT count(*) FROM orders", expected: [[60_104]] }] });
    expect(record.checks.map((c) => [c.name, c.ok])).toEqual([["orders", false]]);
    expect(record.problems[0]).toMatch(/check 'orders' returned \[\[60103\]\], expected \[\[60104\]\]$/);
    expect(record.said).toContain(
      "pg_checksums: not run, this cluster has no data checksums (initdb --data-checksums, or pg_checksums --enable on a stopped server, turns them on)",
    );
  });

  it("pg_amcheck stopped by its budget: said with the budget and its variable, not as damage found", async () => {
    const record = newRecord();
    const db = instance({ one: () => ({ on: "off" }), exec: (argv) => (argv.includes("pg_amcheck") ? { exitCode: 124 } : {}) });
    await runInstanceChecks(record, db, { ...checkSettings, checks: [], builtInChecks: { amcheck: true } });
    expect(record.checks[0]).toMatchObject({ kind: "amcheck", ok: false });
    expect(record.checks[0]?.error).toBe("still running after 60.00 s (budget integrityCheck, PGDRILL_BUDGET_INTEGRITY_CHECK_S); stopped");
    expect(db.ran[0]?.slice(0, 1)).toEqual(["timeout"]);
  });

  it("pg_checksums runs last, on the stopped server, and names the damaged block", async () => {
    const record = newRecord();
    const db = instance({
      one: () => ({ on: "on" }),
      exec: (argv) =>
        argv.some((a) => a.includes("pg_checksums"))
          ? {
              exitCode: 1,
              stderr:
                'pg_checksums: error: checksum verification failed in file "/pgdata/base/5/16384", block 3: calculated checksum 1A2B but block contains 3C4D',
            }
          : {},
    });
    await runInstanceChecks(record, db, { ...checkSettings, checks: [], builtInChecks: { pgDump: true } });
    expect(record.checks.map((c) => c.kind)).toEqual(["pg_dump", "pg_checksums"]);
    expect(db.ran.map((argv) => argv.join(" "))).toEqual([
      expect.stringMatching(/pg_dump/),
      expect.stringMatching(/pg_ctl stop/),
      expect.stringMatching(/pg_checksums --check/),
    ]);
    expect(record.problems[0]).toMatch(/pg_checksums --check \(every page\) failed: .*base\/5\/16384", block 3/);
  });

  it("the recovery point: commit timestamps first, then the user's query; without either it is unknown, and an objective on it cannot be judged", async () => {
    const tracked = newRecord();
    await judgeRecoveryPoint(
      tracked,
      instance({ one: (sql) => (sql.includes("track_commit_timestamp") ? { tracked: true } : { at: "2026-12-03 01:58:00+00" }) }),
      undefined,
    );
    expect(tracked.freshness).toMatchObject({ recoveryPointSource: "pg_last_committed_xact", recoveryPointAgeS: 120 });

    const queried = newRecord();
    await judgeRecoveryPoint(
      queried,
      instance({ one: () => ({ tracked: false }), rows: () => [["2026-12-03 01:00:00+00"]] }),
      "SELECT max(created_at) FROM orders;",
    );
    expect(queried.freshness).toMatchObject({ recoveryPointSource: "query", recoveryPointAgeS: 3600 });

    const unknown = newRecord({ freshnessObjectives: { maxRecoveryPointAgeS: 600 } });
    await judgeRecoveryPoint(unknown, instance({ one: (sql) => (sql.includes("track_commit_timestamp") ? { tracked: false } : { at: null }) }), undefined);
    expect(unknown.freshness.recoveryPointSource).toBeNull();
    expect(unknown.stale).toEqual([
      "the objective maxRecoveryPointAgeS cannot be judged: the recovered data has no commit timestamps (track_commit_timestamp is off) and no recoveryPointQuery is configured",
    ]);
  });
});

describe("the throwaway instance's start", () => {
  const copy = { destination: "/var/tmp/pgdrill-verify-x/pgdata", backupId: "20261202T010000" };

  it("the copy never arrived: a transfer failure, the sending side's words first", () => {
    const record = newRecord();
    recordStartFailure(record, {
      ...copy,
      error: new Error("(HTTP code 500) unexpected EOF"),
      transferred: false,
      senderSaid: "Connection to barman closed by remote host.",
    });
    expect(record.failedPhase).toBe("transfer");
    expect(record.problems[0]).toMatch(
      /: \/var\/tmp\/pgdrill-verify-x\/pgdata could not be copied into the throwaway instance: Connection to barman closed by remote host\.; \(HTTP code 500\)/,
    );
    expect(record.cause).toBe("ssh");
  });

  it("the copy does not match its manifest: the backup is damaged, pg_verifybackup's lines given", () => {
    const record = newRecord();
    const fullLog = [
      "pgdrill: copy verification: FAILED",
      'pgdrill: pg_verifybackup: error: "base/5/16384" has size 0 on disk but size 8192 in the manifest',
    ].join("\n");
    const error = new RecoveredInstanceStartError(new Error("exited"), readRecoveryLog(""), "", fullLog);
    recordStartFailure(record, { ...copy, error, transferred: true, senderSaid: undefined });
    expect(record.backupVerification).toMatchObject({ verdict: "damaged", by: "pg_verifybackup on the restored copy" });
    expect(record.failedPhase).toBe("backup verification");
    expect(record.problems[0]).toMatch(/"base\/5\/16384" has size 0 on disk/);
  });

  it("PostgreSQL did not start: its FATAL with the LOG line that says why, and the library the image lacks", () => {
    const record = newRecord();
    const fullLog = ['LOG:  could not access file "pg_stat_statements": No such file or directory', "FATAL:  could not load library"].join("\n");
    const error = new RecoveredInstanceStartError(new Error("exited"), readRecoveryLog(fullLog), fullLog, fullLog);
    recordStartFailure(record, { ...copy, error, transferred: true, senderSaid: undefined });
    expect(record.failedPhase).toBe("instance start");
    expect(record.problems[0]).toMatch(
      /could not access file "pg_stat_statements"[\s\S]*FATAL: {2}could not load library[\s\S]*the recovery image lacks the library 'pg_stat_statements'/,
    );
    expect(record.backupVerification).toEqual(notReachedVerification());
  });

  it("started: the configured database must be in the copy, named with those that are", () => {
    const record = newRecord();
    const started = { database: "shop", databases: ["postgres", "app"], inRecovery: false, fatalLines: [], serverLog: "" };
    expect(judgeStartedInstance(record, started)).toBe(false);
    expect(record.problems[0]).toMatch(
      /the configured database 'shop' is not in this backup; its databases: postgres, app \(set nightly\.servers\.pg17\.database, or --database\)$/,
    );
    expect(record.failedPhase).toBe("verification");
  });

  it("started but still in recovery, or promoted with a FATAL logged: not a verified recovery", () => {
    const inRecovery = newRecord();
    expect(judgeStartedInstance(inRecovery, { database: "shop", databases: ["shop"], inRecovery: true, fatalLines: [], serverLog: "" })).toBe(false);
    expect(inRecovery.problems[0]).toMatch(/is not a promoted primary: still in recovery$/);
    const logged = newRecord();
    const serverLog = "FATAL:  recovery ended before configured recovery target was reached";
    expect(judgeStartedInstance(logged, { database: "shop", databases: ["shop"], inRecovery: false, fatalLines: [serverLog], serverLog })).toBe(false);
    expect(logged.problems[0]).toMatch(/promoted but logged: FATAL: {2}recovery ended before configured recovery target was reached$/);
    expect(judgeStartedInstance(newRecord(), { database: "shop", databases: undefined, inRecovery: false, fatalLines: [], serverLog: "" })).toBe(true);
  });
});
