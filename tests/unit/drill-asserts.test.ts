import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { describeCheck, failedChecks } from "../../src/asserts/check.ts";
import {
  barmanCheckChecks,
  type Checkpoint,
  configurationPlaceChecks,
  countChecks,
  disasterChecks,
  expectedCheckpoint,
  expectedTimeline,
  promotionChecks,
  recoveredCopyChecks,
  recoveredStateChecks,
  sameTimestamp,
  snapshotChecks,
  stopLineCheck,
  targetAfterBackupChecks,
  walCoverageChecks,
} from "../../src/asserts/drill-asserts.ts";
import { type CheckLine, parseCheck } from "../../src/barman/barman-output.ts";
import type { RecoveryTarget } from "../../src/barman/recovery-target.ts";
import type { TargetKindName } from "../../src/drill/config.ts";
import type { Disaster, GoodState } from "../../src/engine/phases.ts";
import type { RecoveredState } from "../../src/engine/recovery-phases.ts";
import { EMPTY_TABLE_CHECKSUM, type TableSnapshot } from "../../src/engine/row-digest.ts";
import { readRecoveryLog } from "../../src/postgres/recovery-log.ts";

// Scenario 12's checkpoints (row counts of fixtures/scenario-12.config.ts; digests stand-ins).
const BASELINE: TableSnapshot = { users: { rows: 1000, checksum: "users-0" }, orders: { rows: 60004, checksum: "orders-0" } };
const GOOD: TableSnapshot = { users: { rows: 1000, checksum: "users-0" }, orders: { rows: 60104, checksum: "orders-1" } };
const AFTER_DISASTER: TableSnapshot = { users: { rows: 1000, checksum: "users-0" }, orders: { rows: 0, checksum: EMPTY_TABLE_CHECKSUM } };
const CHECKPOINTS = { baseline: BASELINE, goodState: GOOD, afterDisaster: AFTER_DISASTER };

// The real run whose PostgreSQL log is in samples/: the disaster was transaction 767.
const GOOD_STATE: GoodState = {
  time: "2026-11-25 08:29:31.371652+00",
  restorePoint: "before_disaster",
  restorePointLsn: "0/1602A0F8",
  snapshot: GOOD,
  queries: { "normal orders": [[100]], "users by id": [[1, "alice"]] },
};
const DISASTER: Disaster = {
  xid: 767,
  time: "2026-11-25 08:29:31.444373+00",
  segment: "000000010000000000000016",
  rowsAffected: 60104,
  snapshot: AFTER_DISASTER,
  committedAt: 10_000,
};
const FACTS = { goodState: GOOD_STATE, disaster: DISASTER };

const RECOVERED_LOG = readRecoveryLog(readFileSync(new URL("./samples/postgres-15-recovered-instance.log", import.meta.url), "utf8"));

/** The recovery lines PostgreSQL 15 logs around a stop of the given words. */
function recoveryLinesWith(stopLine: string | undefined): string[] {
  const log = [
    "2026-11-25 08:29:37.131 UTC [15] LOG:  starting point-in-time recovery to 2026-11-25 08:29:31.371652+00",
    "2026-11-25 08:29:37.231 UTC [15] LOG:  consistent recovery state reached at 0/3000100",
    '2026-11-25 08:29:38.219 UTC [15] LOG:  restored log file "000000010000000000000015" from archive',
    ...(stopLine ? [`2026-11-25 08:29:38.299 UTC [15] LOG:  ${stopLine}`] : []),
    "2026-11-25 08:29:38.299 UTC [15] LOG:  redo done at 0/1602B3D0 system usage: CPU: user: 0.01 s, system: 0.01 s, elapsed: 1.12 s",
    "2026-11-25 08:29:38.358 UTC [15] LOG:  selected new timeline ID: 2",
    "2026-11-25 08:29:38.388 UTC [15] LOG:  archive recovery complete",
    "2026-11-25 08:29:38.467 UTC [1] LOG:  database system is ready to accept connections",
  ];
  return readRecoveryLog(log.join("\n")).recoveryLines;
}

describe("expectedCheckpoint: which state each target must give back", () => {
  test.each<[TargetKindName, Checkpoint]>([
    ["time", "goodState"],
    ["name", "goodState"],
    ["xid-exclusive", "goodState"],
    ["lsn", "goodState"],
    ["immediate", "baseline"],
    ["xid-inclusive", "afterDisaster"],
    ["latest", "afterDisaster"],
  ])("%s -> %s", (kind, checkpoint) => {
    expect(expectedCheckpoint(kind)).toBe(checkpoint);
  });
});

describe("expectedTimeline", () => {
  test.each<[TargetKindName, "new" | "same"]>([
    ["time", "new"],
    ["name", "new"],
    ["xid-exclusive", "new"],
    ["xid-inclusive", "new"],
    ["lsn", "new"],
    ["immediate", "new"],
    ["latest", "same"],
  ])("%s -> %s timeline", (kind, timeline) => {
    expect(expectedTimeline(kind)).toBe(timeline);
  });
});

describe("countChecks: the configuration's expected row counts", () => {
  test("every table at its count passes, named with where it was read", () => {
    const checks = countChecks("the primary at the good state", { users: 1000, orders: 60104 }, GOOD, "config.expect.goodState");
    expect(checks.map(describeCheck)).toEqual([
      "users rows on the primary at the good state: 1,000, equal to config.expect.goodState",
      "orders rows on the primary at the good state: 60,104, equal to config.expect.goodState",
    ]);
    expect(failedChecks(checks)).toEqual([]);
  });

  test("a wrong count fails with both numbers", () => {
    expect(failedChecks(countChecks("the primary after the disaster", { orders: 0 }, GOOD, "config.expect.afterDisaster"))).toEqual([
      "orders rows on the primary after the disaster: 60,104, expected 0 (config.expect.afterDisaster)",
    ]);
  });

  test("null expects the table absent: absent passes, present fails", () => {
    expect(failedChecks(countChecks("the primary", { "sales.invoices": null }, { "sales.invoices": null }, "config.expect.afterDisaster"))).toEqual([]);
    expect(
      failedChecks(countChecks("the primary", { "sales.invoices": null }, { "sales.invoices": { rows: 2500, checksum: "i" } }, "config.expect.afterDisaster")),
    ).toEqual(["sales.invoices rows on the primary: 2,500, expected absent (config.expect.afterDisaster)"]);
  });

  test("a table the snapshot did not read is named as not in verify.tables", () => {
    expect(failedChecks(countChecks("the primary", { payments: 10 }, GOOD, "config.expect.baseline"))).toEqual([
      "payments rows on the primary: not in verify.tables, expected 10 (config.expect.baseline)",
    ]);
  });

  test("no expectation at a checkpoint: no checks", () => {
    expect(countChecks("the primary", undefined, GOOD, "config.expect.baseline")).toEqual([]);
  });
});

describe("snapshotChecks: rows and content digest per table", () => {
  test("an identical snapshot passes two checks per table", () => {
    const checks = snapshotChecks("the recovered instance", GOOD, { ...GOOD }, "the good state");
    expect(checks.map(describeCheck)).toEqual([
      "users rows on the recovered instance: 1,000, equal to the good state",
      "users content digest on the recovered instance: users-0, equal to the good state",
      "orders rows on the recovered instance: 60,104, equal to the good state",
      "orders content digest on the recovered instance: orders-1, equal to the good state",
    ]);
    expect(failedChecks(checks)).toEqual([]);
  });

  test("the disaster's state against the good state: orders' rows and digest fail", () => {
    expect(failedChecks(snapshotChecks("the recovered instance", GOOD, AFTER_DISASTER, "the good state"))).toEqual([
      "orders rows on the recovered instance: 0, expected 60,104 (the good state)",
      `orders content digest on the recovered instance: ${EMPTY_TABLE_CHECKSUM}, expected orders-1 (the good state)`,
    ]);
  });

  test("same row count with other content fails on the digest only", () => {
    expect(failedChecks(snapshotChecks("the recovered instance", GOOD, { ...GOOD, users: { rows: 1000, checksum: "users-9" } }, "the good state"))).toEqual([
      "users content digest on the recovered instance: users-9, expected users-0 (the good state)",
    ]);
  });

  test("a table missing where rows were expected is one check, named absent", () => {
    expect(failedChecks(snapshotChecks("the recovered instance", GOOD, { ...GOOD, orders: null }, "the good state"))).toEqual([
      "orders on the recovered instance: absent, expected 60104 rows (the good state)",
    ]);
  });

  test("a table expected absent passes when absent, fails when present", () => {
    expect(failedChecks(snapshotChecks("production", { "sales.invoices": null }, { "sales.invoices": null }, "the state after the disaster"))).toEqual([]);
    expect(
      failedChecks(
        snapshotChecks("production", { "sales.invoices": null }, { "sales.invoices": { rows: 2500, checksum: "i" } }, "the state after the disaster"),
      ),
    ).toEqual(['sales.invoices on production: {"rows":2500,"checksum":"i"}, expected absent (the state after the disaster)']);
  });
});

describe("disasterChecks", () => {
  test("the disaster changed orders: passes, naming it", () => {
    expect(disasterChecks({ goodState: GOOD, afterDisaster: AFTER_DISASTER }).map(describeCheck)).toEqual([
      "tables the disaster changed: orders, at least one (else the drill proves nothing)",
    ]);
  });

  test("a disaster that changed nothing fails: the drill would prove nothing", () => {
    expect(failedChecks(disasterChecks({ goodState: GOOD, afterDisaster: { ...GOOD } }))).toEqual([
      "tables the disaster changed: none, expected at least one (else the drill proves nothing)",
    ]);
  });
});

describe("barmanCheckChecks", () => {
  const line = (check: string, ok = true, hint = ""): CheckLine => ({ check, ok, hint });
  const COMMON = ["archiver errors", "backup maximum age", "directories", "failed backups", "postgresql", "wal level"].map((c) => line(c));
  const ARCHIVE_COMMAND = ["archive mode", "archive command", "continuous archiving"].map((c) => line(c));
  const STREAMING = ["pg receivexlog", "postgresql streaming", "receive wal running", "replication slot"].map((c) => line(c));

  test.each<[string, Record<string, string>, boolean, CheckLine[], string[]]>([
    [
      "streaming on, backup_method postgres (the default)",
      {},
      true,
      [...COMMON, ...ARCHIVE_COMMAND, ...STREAMING, line("pg basebackup")],
      ["archive mode", "archive command", "continuous archiving", "receive wal running", "replication slot", "pg basebackup"],
    ],
    [
      "streaming off",
      { streaming_archiver: "off" },
      false,
      [...COMMON, ...ARCHIVE_COMMAND, line("pg basebackup")],
      ["archive mode", "archive command", "continuous archiving", "pg basebackup"],
    ],
    [
      "backup_method rsync",
      { backup_method: "rsync" },
      true,
      [...COMMON, ...ARCHIVE_COMMAND, ...STREAMING, line("ssh")],
      ["archive mode", "archive command", "continuous archiving", "receive wal running", "replication slot", "ssh"],
    ],
  ])("%s: the lines of its WAL paths and backup method are there, all OK", (_, barmanSettings, streaming, lines, wanted) => {
    const checks = barmanCheckChecks(lines, { walPaths: { streaming, archiveCommand: true }, barmanSettings });
    expect(checks.map(describeCheck)).toEqual([
      `barman check lines for the configured WAL paths and backup method: ${JSON.stringify(wanted)}`,
      `barman check lines failed (of ${lines.length}): none`,
    ]);
  });

  test("rsync configured but Barman checks no ssh: the missing line is caught", () => {
    const lines = [...COMMON, ...ARCHIVE_COMMAND, ...STREAMING, line("pg basebackup")];
    const [paths] = barmanCheckChecks(lines, { walPaths: { streaming: true, archiveCommand: true }, barmanSettings: { backup_method: "rsync" } });
    expect(paths!.ok).toBe(false);
    expect(paths!.actual).toEqual(["archive mode", "archive command", "continuous archiving", "receive wal running", "replication slot"]);
  });

  test("a Barman 3.4 check of a streaming-only server (samples/) lacks the archive_command lines", () => {
    const lines = parseCheck(readFileSync(new URL("./samples/barman-3.4-check-ok.json", import.meta.url), "utf8"), "pg-primary");
    const checks = barmanCheckChecks(lines, { walPaths: { streaming: true, archiveCommand: true }, barmanSettings: {} });
    expect(checks[0]!.actual).toEqual(["receive wal running", "replication slot", "pg basebackup"]);
    expect(checks[0]!.ok).toBe(false);
    expect(checks[1]!.ok).toBe(true);
  });

  test("streaming on but the streaming lines absent: caught", () => {
    const lines = [...COMMON, ...ARCHIVE_COMMAND, line("pg basebackup")];
    expect(barmanCheckChecks(lines, { walPaths: { streaming: true, archiveCommand: true }, barmanSettings: {} })[0]!.ok).toBe(false);
  });

  test("failed lines are listed with their hints (Barman 3.4's failing check in samples/)", () => {
    const lines = parseCheck(readFileSync(new URL("./samples/barman-3.4-check-failing.json", import.meta.url), "utf8"), "pg-primary");
    const failed = barmanCheckChecks(lines, { walPaths: { streaming: true, archiveCommand: true }, barmanSettings: {} })[1]!;
    expect(failed.what).toBe("barman check lines failed (of 18)");
    expect(failed.ok).toBe(false);
    expect(failed.actual).toEqual([
      "pg basebackup compatible: FAILED (PostgreSQL version: None, pg_basebackup version: 15.20)",
      "pg receivexlog compatible: FAILED (PostgreSQL version: None, pg_receivexlog version: 15.20)",
      "postgresql: FAILED",
      "receive wal running: FAILED (See the Barman log file for more details)",
      "wal archive: FAILED (please make sure WAL shipping is setup)",
    ]);
  });
});

describe("walCoverageChecks", () => {
  test("nothing missing passes, naming the range and how many segments were checked", () => {
    const checks = walCoverageChecks({ from: "000000010000000000000003", through: "000000010000000000000016", segmentsChecked: 20, missing: [] });
    expect(checks.map(describeCheck)).toEqual([
      "WAL segments missing from Barman's archive between 000000010000000000000003 and 000000010000000000000016 (20 checked): none",
    ]);
    expect(failedChecks(checks)).toEqual([]);
  });

  test("a missing segment fails, named", () => {
    const checks = walCoverageChecks({
      from: "000000010000000000000003",
      through: "000000010000000000000016",
      segmentsChecked: 20,
      missing: ["00000001000000000000000A"],
    });
    expect(failedChecks(checks)).toEqual([
      'WAL segments missing from Barman\'s archive between 000000010000000000000003 and 000000010000000000000016 (20 checked): ["00000001000000000000000A"], expected none',
    ]);
  });
});

describe("targetAfterBackupChecks", () => {
  const backupEnd = new Date("2026-11-25T08:26:26.000Z");

  test("a target time after the backup's end passes", () => {
    expect(targetAfterBackupChecks({ kind: "time", time: "2026-11-25 08:29:31.371652+00" }, backupEnd).map(describeCheck)).toEqual([
      "recovery target time: 2026-11-25 08:29:31.371652+00, after the backup's end 2026-11-25T08:26:26.000Z",
    ]);
  });

  test("a target time before the backup's end fails (Barman would refuse it)", () => {
    expect(failedChecks(targetAfterBackupChecks({ kind: "time", time: "2026-11-25 09:26:00+01" }, backupEnd))).toEqual([
      "recovery target time: 2026-11-25 09:26:00+01, expected after the backup's end 2026-11-25T08:26:26.000Z",
    ]);
  });

  test("other targets: no check", () => {
    expect(targetAfterBackupChecks({ kind: "name", name: "before_disaster" }, backupEnd)).toEqual([]);
    expect(targetAfterBackupChecks({ kind: "immediate" }, backupEnd)).toEqual([]);
  });
});

describe("recoveredCopyChecks: what Barman 3.4 wrote into postgresql.auto.conf", () => {
  /** postgresql.auto.conf as Barman 3.4 leaves it: the primary's ALTER SYSTEM archive_command commented out and replaced, then its recovery lines. */
  const autoConf = (recoveryLines: string[]): string =>
    [
      "# Do not edit this file manually!",
      "# It will be overwritten by the ALTER SYSTEM command.",
      "#BARMAN#archive_command = 'barman-wal-archive barman pg-primary %p'",
      "archive_command = false",
      "restore_command = 'cp barman_wal/%f %p'",
      "recovery_end_command = 'rm -fr barman_wal'",
      ...recoveryLines,
      "",
    ].join("\n");

  test("a time target: every check passes, with the values read", () => {
    const target: RecoveryTarget = { kind: "time", time: "2026-11-25 19:10:34.542995+00:00" };
    const copy = {
      autoConf: autoConf(["recovery_target_time = '2026-11-25 19:10:34.542995+00:00'", "recovery_target_action = 'promote'"]),
      recoverySignal: true,
    };
    expect(recoveredCopyChecks(copy, target).map(describeCheck)).toEqual([
      "archive_command in the recovered copy: false, equal to what Barman writes to protect the archive",
      "restore_command in postgresql.auto.conf: cp barman_wal/%f %p, set by Barman",
      "recovery_target_time in postgresql.auto.conf: 2026-11-25 19:10:34.542995+00:00, the requested target 2026-11-25 19:10:34.542995+00:00",
      "recovery_target_action in postgresql.auto.conf: promote",
      "recovery.signal in the recovered copy: true",
    ]);
  });

  test.each<[string, RecoveryTarget, string[]]>([
    ["name", { kind: "name", name: "before_disaster" }, ["recovery_target_name = 'before_disaster'"]],
    ["xid exclusive", { kind: "xid", xid: 767, exclusive: true }, ["recovery_target_xid = '767'", "recovery_target_inclusive = 'False'"]],
    ["xid inclusive", { kind: "xid", xid: 767, exclusive: false }, ["recovery_target_xid = '767'"]],
    ["lsn", { kind: "lsn", lsn: "0/1602A0F8", exclusive: false }, ["recovery_target_lsn = '0/1602A0F8'"]],
    ["immediate", { kind: "immediate" }, ["recovery_target = 'immediate'"]],
  ])("a %s target: its setting is read and matches, all checks pass", (_, target, lines) => {
    const checks = recoveredCopyChecks({ autoConf: autoConf([...lines, "recovery_target_action = 'promote'"]), recoverySignal: true }, target);
    expect(checks).toHaveLength(5);
    expect(failedChecks(checks)).toEqual([]);
  });

  test("a time as Barman 3.13 writes it (+00:00 for PostgreSQL's +00) is the requested time; another microsecond is not", () => {
    const copy = (time: string) => ({ autoConf: autoConf([`recovery_target_time = '${time}'`, "recovery_target_action = 'promote'"]), recoverySignal: true });
    const target: RecoveryTarget = { kind: "time", time: "2026-11-25 19:59:18.664352+00" };
    expect(failedChecks(recoveredCopyChecks(copy("2026-11-25 19:59:18.664352+00:00"), target))).toEqual([]);
    expect(failedChecks(recoveredCopyChecks(copy("2026-11-25 19:59:18.664353+00:00"), target))).toEqual([
      "recovery_target_time in postgresql.auto.conf: 2026-11-25 19:59:18.664353+00:00, expected the requested target 2026-11-25 19:59:18.664352+00",
    ]);
  });

  test("a target setting of another value fails, naming both", () => {
    const copy = { autoConf: autoConf(["recovery_target_xid = '766'", "recovery_target_action = 'promote'"]), recoverySignal: true };
    expect(failedChecks(recoveredCopyChecks(copy, { kind: "xid", xid: 767, exclusive: true }))).toEqual([
      "recovery_target_xid in postgresql.auto.conf: 766, expected 767 (the requested target)",
    ]);
  });

  test("the primary's archive_command left active, no restore_command, no target: each named", () => {
    const copy = { autoConf: "archive_command = 'barman-wal-archive barman pg-primary %p'\n", recoverySignal: false };
    expect(failedChecks(recoveredCopyChecks(copy, { kind: "name", name: "before_disaster" }))).toEqual([
      "archive_command in the recovered copy: barman-wal-archive barman pg-primary %p, expected false (what Barman writes to protect the archive)",
      "restore_command in postgresql.auto.conf: missing, expected set by Barman",
      "recovery_target_name in postgresql.auto.conf: missing, expected before_disaster (the requested target)",
      "recovery_target_action in postgresql.auto.conf: missing, expected promote",
      "recovery.signal in the recovered copy: false, expected true",
    ]);
  });

  test("no target (latest): Barman 3.4 writes no recovery settings, only archive_command = false is asked for", () => {
    const copy = { autoConf: "#BARMAN#archive_command = 'barman-wal-archive barman pg-primary %p'\narchive_command = false\n", recoverySignal: false };
    expect(recoveredCopyChecks(copy, { kind: "latest" }).map(describeCheck)).toEqual([
      "archive_command in the recovered copy: false, equal to what Barman writes to protect the archive",
    ]);
  });

  test("a commented-out setting (#BARMAN#) is not read as set", () => {
    const copy = {
      autoConf: "#BARMAN#recovery_target_time = '2026-11-25 08:00:00+00'\nrestore_command = 'cp barman_wal/%f %p'\narchive_command = false\n",
      recoverySignal: true,
    };
    expect(failedChecks(recoveredCopyChecks(copy, { kind: "time", time: "2026-11-25 08:00:00+00" }))).toEqual([
      "recovery_target_time in postgresql.auto.conf: missing, expected 2026-11-25 08:00:00+00 (the requested target)",
      "recovery_target_action in postgresql.auto.conf: missing, expected promote",
    ]);
  });

  test("a target action other than promote fails", () => {
    const copy = { autoConf: autoConf(["recovery_target = 'immediate'", "recovery_target_action = 'pause'"]), recoverySignal: true };
    expect(failedChecks(recoveredCopyChecks(copy, { kind: "immediate" }))).toEqual(["recovery_target_action in postgresql.auto.conf: pause, expected promote"]);
  });
});

describe("promotionChecks: the recovered instance's log", () => {
  test("the real PostgreSQL 15 log: no FATAL, promoted, target announced", () => {
    expect(promotionChecks(RECOVERED_LOG, "time").map(describeCheck)).toEqual([
      "FATAL/PANIC lines in the recovered instance's log: none",
      "recovered instance promoted: true",
      "recovery target announced by PostgreSQL: 2026-11-25 08:29:31.371652+00, one",
    ]);
  });

  test("no target (latest): no announcement is asked for", () => {
    expect(promotionChecks({ ...RECOVERED_LOG, pitrTarget: undefined }, "latest").map((c) => c.what)).toEqual([
      "FATAL/PANIC lines in the recovered instance's log",
      "recovered instance promoted",
    ]);
  });

  test("a target never reached: the FATAL line, no promotion, no announcement all fail", () => {
    const fatal = "2026-11-25 08:29:37.241 UTC [15] FATAL:  recovery ended before configured recovery target was reached";
    expect(failedChecks(promotionChecks({ ...RECOVERED_LOG, fatalLines: [fatal], promoted: false, pitrTarget: undefined }, "name"))).toEqual([
      `FATAL/PANIC lines in the recovered instance's log: ${JSON.stringify([fatal])}, expected none`,
      "recovered instance promoted: false, expected true",
      "recovery target announced by PostgreSQL: none, expected one",
    ]);
  });
});

describe("stopLineCheck: where PostgreSQL says it stopped", () => {
  test("time, on the real log: stopped before the disaster's commit (transaction 767)", () => {
    const check = stopLineCheck("time", FACTS, RECOVERED_LOG.recoveryLines);
    expect(describeCheck(check)).toBe(
      "where recovery stopped: recovery stopping before commit of transaction 767, at or before the disaster's commit (transaction 767)",
    );
    expect(check.ok).toBe(true);
  });

  test("time: stopping before an earlier commit (autoanalyze between target and disaster) still passes", () => {
    const facts = { ...FACTS, disaster: { ...DISASTER, xid: 768 } };
    expect(stopLineCheck("time", facts, RECOVERED_LOG.recoveryLines).ok).toBe(true);
  });

  test("time: stopping before a commit after the disaster's fails (the disaster was replayed)", () => {
    const facts = { ...FACTS, disaster: { ...DISASTER, xid: 766 } };
    expect(failedChecks([stopLineCheck("time", facts, RECOVERED_LOG.recoveryLines)])).toEqual([
      "where recovery stopped: recovery stopping before commit of transaction 767, expected at or before the disaster's commit (transaction 766)",
    ]);
  });

  test("time: no stop line fails", () => {
    expect(describeCheck(stopLineCheck("time", FACTS, recoveryLinesWith(undefined)))).toBe(
      "where recovery stopped: no stop line, expected at or before the disaster's commit (transaction 767)",
    );
  });

  test.each<[TargetKindName, string | undefined, string]>([
    [
      "xid-exclusive",
      "recovery stopping before commit of transaction 767, time 2026-11-25 08:29:31.444373+00",
      "recovery stopping before commit of transaction 767",
    ],
    [
      "xid-inclusive",
      "recovery stopping after commit of transaction 767, time 2026-11-25 08:29:31.444373+00",
      "recovery stopping after commit of transaction 767",
    ],
    [
      "name",
      'recovery stopping at restore point "before_disaster", time 2026-11-25 08:29:31.371652+00',
      'recovery stopping at restore point "before_disaster"',
    ],
    ["lsn", 'recovery stopping after WAL location (LSN) "0/1602A0F8"', 'recovery stopping after WAL location (LSN) "0/1602A0F8"'],
    ["immediate", "recovery stopping after reaching consistency", "recovery stopping after reaching consistency"],
    ["latest", undefined, "no such line"],
  ])("%s: PostgreSQL's stop line for the drill's facts passes", (kind, stopLine, actual) => {
    const check = stopLineCheck(kind, FACTS, recoveryLinesWith(stopLine));
    expect(check.actual).toBe(actual);
    expect(check.ok).toBe(true);
  });

  test("xid-exclusive on the real log (stopped before 767) passes", () => {
    expect(stopLineCheck("xid-exclusive", FACTS, RECOVERED_LOG.recoveryLines).ok).toBe(true);
  });

  test.each<[TargetKindName, string]>([
    ["xid-inclusive", "where recovery stopped: no such line, expected recovery stopping after commit of transaction 767 (the disaster's transaction)"],
    ["name", 'where recovery stopped: no such line, expected recovery stopping at restore point "before_disaster"'],
    ["lsn", 'where recovery stopped: no such line, expected recovery stopping after WAL location (LSN) "0/1602A0F8"'],
    ["immediate", "where recovery stopped: no such line, expected recovery stopping after reaching consistency"],
    [
      "latest",
      "recovery stop line (none without a target: the whole archive replayed): recovery stopping before commit of transaction 767, time 2026-11-25 08:29:31.444373+00, expected no such line",
    ],
  ])("%s on the real log of a time recovery fails, saying what was expected", (kind, sentence) => {
    expect(failedChecks([stopLineCheck(kind, FACTS, RECOVERED_LOG.recoveryLines)])).toEqual([sentence]);
  });

  test("xid-exclusive stopping at another transaction fails", () => {
    expect(failedChecks([stopLineCheck("xid-exclusive", { ...FACTS, disaster: { ...DISASTER, xid: 768 } }, RECOVERED_LOG.recoveryLines)])).toEqual([
      "where recovery stopped: recovery stopping before commit of transaction 767, expected recovery stopping before commit of transaction 768 (the disaster's transaction)",
    ]);
  });

  test("name: a stop at another restore point fails", () => {
    const lines = recoveryLinesWith('recovery stopping at restore point "nightly", time 2026-11-25 08:29:31.371652+00');
    expect(stopLineCheck("name", FACTS, lines).ok).toBe(false);
  });
});

describe("recoveredStateChecks", () => {
  const plan = {
    queries: [
      { name: "normal orders", sql: "SELECT count(*)::int FROM orders WHERE product LIKE 'NORMAL_ORDER_%'", expected: [[100]] },
      { name: "users by id", sql: "SELECT id, name FROM users ORDER BY id LIMIT 1" },
    ],
  };
  const state = (over: Partial<RecoveredState> = {}): RecoveredState => ({
    snapshot: GOOD,
    queries: { "normal orders": [[100]], "users by id": [[1, "alice"]] },
    inRecovery: false,
    timeline: 2,
    durationMs: 90,
    ...over,
  });
  const input = (kind: TargetKindName, recovered: RecoveredState) => ({
    kind,
    plan,
    checkpoints: CHECKPOINTS,
    goodStateQueries: GOOD_STATE.queries,
    state: recovered,
    primaryTimeline: 1,
  });

  test("a time recovery holding the good state, out of recovery, on a new timeline: every check passes", () => {
    const checks = recoveredStateChecks(input("time", state()));
    expect(checks.map(describeCheck)).toEqual([
      "users rows on the recovered instance: 1,000, equal to the good state",
      "users content digest on the recovered instance: users-0, equal to the good state",
      "orders rows on the recovered instance: 60,104, equal to the good state",
      "orders content digest on the recovered instance: orders-1, equal to the good state",
      "query 'normal orders' on the recovered instance: [[100]], equal to the configured rows",
      `query 'users by id' on the recovered instance: [[1,"alice"]], equal to the primary's answer at the good state`,
      "the recovered instance in recovery: false",
      "the recovered instance's timeline: 2, a new one after the primary's 1",
    ]);
  });

  test("a time recovery that replayed the disaster fails on orders and the query", () => {
    expect(
      failedChecks(
        recoveredStateChecks(input("time", state({ snapshot: AFTER_DISASTER, queries: { "normal orders": [[0]], "users by id": [[1, "alice"]] } }))),
      ),
    ).toEqual([
      "orders rows on the recovered instance: 0, expected 60,104 (the good state)",
      `orders content digest on the recovered instance: ${EMPTY_TABLE_CHECKSUM}, expected orders-1 (the good state)`,
      "query 'normal orders' on the recovered instance: [[0]], expected [[100]] (the configured rows)",
    ]);
  });

  test("a query without expected rows is compared with the primary's answer at the good state", () => {
    expect(failedChecks(recoveredStateChecks(input("name", state({ queries: { "normal orders": [[100]], "users by id": [[1, "bob"]] } }))))).toEqual([
      `query 'users by id' on the recovered instance: [[1,"bob"]], expected [[1,"alice"]] (the primary's answer at the good state)`,
    ]);
  });

  test("immediate is compared with the baseline, without the good state's queries", () => {
    const checks = recoveredStateChecks(input("immediate", state({ snapshot: BASELINE })));
    expect(failedChecks(checks)).toEqual([]);
    expect(checks.map((c) => c.expectedFrom).filter(Boolean)).toEqual(Array(4).fill("the baseline (the state the backup holds)"));
    expect(checks.some((c) => c.what.startsWith("query"))).toBe(false);
  });

  test("xid-inclusive is compared with the state after the disaster", () => {
    expect(failedChecks(recoveredStateChecks(input("xid-inclusive", state({ snapshot: AFTER_DISASTER }))))).toEqual([]);
    expect(failedChecks(recoveredStateChecks(input("xid-inclusive", state())))).toHaveLength(2);
  });

  test("latest: the state after the disaster, staying on the backup's timeline", () => {
    const checks = recoveredStateChecks(input("latest", state({ snapshot: AFTER_DISASTER, timeline: 1 })));
    expect(failedChecks(checks)).toEqual([]);
    expect(describeCheck(checks.at(-1)!)).toBe("the recovered instance's timeline (crash recovery stays on the backup's): 1");
    expect(failedChecks(recoveredStateChecks(input("latest", state({ snapshot: AFTER_DISASTER, timeline: 2 }))))).toEqual([
      "the recovered instance's timeline (crash recovery stays on the backup's): 2, expected 1",
    ]);
  });

  test("still in recovery, or on the primary's timeline after a targeted recovery, fails", () => {
    expect(failedChecks(recoveredStateChecks(input("time", state({ inRecovery: true, timeline: 1 }))))).toEqual([
      "the recovered instance in recovery: true, expected false",
      "the recovered instance's timeline: 1, expected a new one after the primary's 1",
    ]);
  });
});

describe("sameTimestamp: a target time as Barman and PostgreSQL write it", () => {
  test.each([
    ["2026-11-25 20:07:19.659730+00:00", "2026-11-25 20:07:19.65973+00", true],
    ["2026-11-25 20:07:19+00:00", "2026-11-25 20:07:19+00", true],
    ["2026-11-25 20:07:19.659731+00:00", "2026-11-25 20:07:19.65973+00", false],
    ["2026-11-25 20:07:19.65973+01", "2026-11-25 19:07:19.65973+00", false],
    ["not a time", "not a time", false],
  ])("%s vs %s: %s", (a, b, same) => {
    expect(sameTimestamp(a, b)).toBe(same);
  });
});

describe("configurationPlaceChecks: the server reads the configuration its layout says", () => {
  test("Debian: /etc/postgresql/<major>/main, also for a recovered directory elsewhere", () => {
    const recovered = { configFile: "/etc/postgresql/15/main/postgresql.conf", dataDirectory: "/recovery/t-time" };
    expect(failedChecks(configurationPlaceChecks("time: the recovered instance", "debian", "15", recovered))).toEqual([]);
  });

  test("Debian, but the copy's own postgresql.conf was read: red, naming both files", () => {
    const wrong = { configFile: "/recovery/t-time/postgresql.conf", dataDirectory: "/recovery/t-time" };
    expect(failedChecks(configurationPlaceChecks("time: the recovered instance", "debian", "17", wrong))).toEqual([
      "time: the recovered instance: configuration file (layout debian, data in /recovery/t-time): /recovery/t-time/postgresql.conf, expected /etc/postgresql/17/main/postgresql.conf",
    ]);
  });

  test("official: postgresql.conf inside PGDATA", () => {
    const primary = { configFile: "/var/lib/postgresql/data/postgresql.conf", dataDirectory: "/var/lib/postgresql/data" };
    expect(failedChecks(configurationPlaceChecks("the primary", "official", "15", primary))).toEqual([]);
    expect(
      failedChecks(configurationPlaceChecks("the primary", "official", "15", { ...primary, configFile: "/etc/postgresql/15/main/postgresql.conf" })),
    ).toHaveLength(1);
  });
});
