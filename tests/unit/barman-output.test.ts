import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import {
  archivedSegmentPath,
  BarmanOutputError,
  compareSegmentPosition,
  describeFailedChecks,
  isWalSegmentName,
  parseBackupId,
  parseBarmanTimestamp,
  parseCheck,
  parseListBackup,
  parseShowBackup,
  parseWalsDirectory,
  RECOVERY_PREPARED,
  recoverSucceeded,
  segmentTimeline,
  walSegmentRange,
} from "../../src/barman/barman-output.ts";

// Output captured from real Barman 3.4 runs against PostgreSQL 15.
const sample = (name: string): string => readFileSync(new URL(`./samples/${name}`, import.meta.url), "utf8");
const CHECK_OK = sample("barman-3.4-check-ok.json");
const CHECK_FAILING = sample("barman-3.4-check-failing.json");
const LIST_BACKUP = sample("barman-3.4-list-backup.json");
const SHOW_BACKUP = sample("barman-3.4-show-backup.json");
const SHOW_SERVER = sample("barman-3.4-show-server.json");
const SERVER = "pg-primary";

/** Runs `parse` and returns the BarmanOutputError it must throw. */
function outputError(parse: () => unknown): BarmanOutputError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(BarmanOutputError);
    return error as BarmanOutputError;
  }
  throw new Error("no BarmanOutputError thrown");
}

describe("BarmanOutputError", () => {
  test("names the command and the problem, and quotes the raw output (first 2000 characters)", () => {
    const raw = `Traceback (most recent call last):\n${"x".repeat(3000)}`;
    const error = outputError(() => parseCheck(raw, SERVER));
    expect(error.name).toBe("BarmanOutputError");
    expect(error.message).toBe(`Unexpected output from \`barman check\`: not JSON\n${raw.slice(0, 2000)}`);
  });
});

describe("parseCheck", () => {
  test("all 22 checks of a healthy server are OK, in Barman's order, underscores turned to spaces", () => {
    const lines = parseCheck(CHECK_OK, SERVER);
    expect(lines).toHaveLength(22);
    expect(lines.every((l) => l.ok)).toBe(true);
    expect(lines.map((l) => l.check)).toEqual([
      "archiver errors",
      "backup maximum age",
      "backup minimum size",
      "compression settings",
      "directories",
      "failed backups",
      "minimum redundancy requirements",
      "pg basebackup",
      "pg basebackup compatible",
      "pg basebackup supports tablespaces mapping",
      "pg receivexlog",
      "pg receivexlog compatible",
      "postgresql",
      "postgresql streaming",
      "receive wal running",
      "replication slot",
      "retention policy settings",
      "superuser or standard user with backup privileges",
      "systemid coherence",
      "wal level",
      "wal maximum age",
      "wal size",
    ]);
    expect(lines.find((l) => l.check === "wal size")).toEqual({ check: "wal size", ok: true, hint: "304.0 MiB" });
    expect(lines.find((l) => l.check === "backup minimum size")?.hint).toBe("22.3 MiB");
  });

  test("a server whose PostgreSQL is unreachable: exactly the 5 FAILED checks are not ok", () => {
    const lines = parseCheck(CHECK_FAILING, SERVER);
    expect(lines).toHaveLength(18);
    expect(lines.filter((l) => !l.ok)).toEqual([
      { check: "pg basebackup compatible", ok: false, hint: "PostgreSQL version: None, pg_basebackup version: 15.20" },
      { check: "pg receivexlog compatible", ok: false, hint: "PostgreSQL version: None, pg_receivexlog version: 15.20" },
      { check: "postgresql", ok: false, hint: "" },
      { check: "receive wal running", ok: false, hint: "See the Barman log file for more details" },
      { check: "wal archive", ok: false, hint: "please make sure WAL shipping is setup" },
    ]);
    expect(lines.find((l) => l.check === "failed backups")).toEqual({ check: "failed backups", ok: true, hint: "there are 0 failed backups" });
  });

  test("any status other than OK is a failure", () => {
    const raw = JSON.stringify({ s: { a: { status: "OK", hint: "" }, b: { status: "ok", hint: "" }, c: { status: "WARNING", hint: "w" } } });
    expect(parseCheck(raw, "s").map((l) => l.ok)).toEqual([true, false, false]);
  });

  test("not JSON -> BarmanOutputError", () => {
    const error = outputError(() => parseCheck("ERROR: Unknown server 'pg-primary'", SERVER));
    expect(error.message).toMatch(/^Unexpected output from `barman check`: not JSON\nERROR: Unknown server 'pg-primary'$/);
  });

  test("no result for the server -> BarmanOutputError naming it", () => {
    const error = outputError(() => parseCheck(CHECK_OK, "pg-other"));
    expect(error.message).toMatch(/^Unexpected output from `barman check`: no result for server 'pg-other'\n\{"pg-primary"/);
  });

  test("wrong shape (check without hint) -> BarmanOutputError", () => {
    const error = outputError(() => parseCheck(JSON.stringify({ [SERVER]: { postgresql: { status: "OK" } } }), SERVER));
    expect(error.message).toMatch(/^Unexpected output from `barman check`: /);
    expect(error.message).toContain("hint");
  });

  test("a JSON array instead of an object -> BarmanOutputError", () => {
    outputError(() => parseCheck("[]", SERVER));
  });
});

describe("describeFailedChecks", () => {
  test("the failing sample, in order, with hints only where Barman gave one", () => {
    expect(describeFailedChecks(parseCheck(CHECK_FAILING, SERVER))).toBe(
      "pg basebackup compatible: FAILED (PostgreSQL version: None, pg_basebackup version: 15.20); " +
        "pg receivexlog compatible: FAILED (PostgreSQL version: None, pg_receivexlog version: 15.20); " +
        "postgresql: FAILED; " +
        "receive wal running: FAILED (See the Barman log file for more details); " +
        "wal archive: FAILED (please make sure WAL shipping is setup)",
    );
  });

  test("nothing failed -> empty string", () => {
    expect(describeFailedChecks(parseCheck(CHECK_OK, SERVER))).toBe("");
    expect(describeFailedChecks([])).toBe("");
  });
});

describe("parseListBackup", () => {
  test("the real list: one DONE backup with its size", () => {
    expect(parseListBackup(LIST_BACKUP, SERVER)).toEqual([{ backupId: "20261125T082625", status: "DONE", sizeBytes: 40153139 }]);
  });

  test("a backup still running has no size (Barman prints only id and status)", () => {
    const raw = JSON.stringify({
      [SERVER]: [{ backup_id: "20261125T090000", status: "STARTED" }, JSON.parse(LIST_BACKUP)[SERVER][0]],
    });
    expect(parseListBackup(raw, SERVER)).toEqual([
      { backupId: "20261125T090000", status: "STARTED", sizeBytes: undefined },
      { backupId: "20261125T082625", status: "DONE", sizeBytes: 40153139 },
    ]);
  });

  test("a server with no backups -> empty list", () => {
    expect(parseListBackup(`{"${SERVER}": []}`, SERVER)).toEqual([]);
  });

  test("not JSON -> BarmanOutputError", () => {
    expect(outputError(() => parseListBackup("", SERVER)).message).toMatch(/^Unexpected output from `barman list-backup`: not JSON/);
  });

  test("an entry without backup_id -> BarmanOutputError", () => {
    outputError(() => parseListBackup(JSON.stringify({ [SERVER]: [{ status: "DONE" }] }), SERVER));
  });

  test("size_bytes as text -> BarmanOutputError", () => {
    outputError(() => parseListBackup(JSON.stringify({ [SERVER]: [{ backup_id: "x", status: "DONE", size_bytes: "38.3 MiB" }] }), SERVER));
  });
});

describe("parseShowBackup", () => {
  test("the real show-backup, field by field", () => {
    const details = parseShowBackup(SHOW_BACKUP, SERVER);
    expect(details).toEqual({
      backupId: "20261125T082625",
      status: "DONE",
      beginTime: new Date(Date.UTC(2026, 10, 25, 8, 26, 25, 161)),
      endTime: new Date(Date.UTC(2026, 10, 25, 8, 26, 27, 246)),
      beginWal: "000000010000000000000003",
      endWal: "000000010000000000000003",
      beginLsn: "0/3000028",
      endLsn: "0/4000000",
      timeline: 1,
      sizeBytes: 23375923, // disk_usage_bytes: the base backup alone, without WAL
      postgresVersion: 150020,
      encryption: null, // Barman 3.4 has no encryption field
    });
    expect(details.beginTime.toISOString()).toBe("2026-11-25T08:26:25.161Z");
    expect(details.endTime.toISOString()).toBe("2026-11-25T08:26:27.246Z");
  });

  test("no result for the server -> BarmanOutputError naming it", () => {
    expect(outputError(() => parseShowBackup(SHOW_BACKUP, "pg-other")).message).toMatch(
      /^Unexpected output from `barman show-backup`: no result for server 'pg-other'\n/,
    );
  });

  test("a FAILED backup (Barman prints no base_backup_information) -> BarmanOutputError", () => {
    const raw = JSON.stringify({ [SERVER]: { backup_id: "20261125T090000", status: "FAILED", error: "failure contacting PostgreSQL" } });
    const error = outputError(() => parseShowBackup(raw, SERVER));
    expect(error.message).toMatch(/^Unexpected output from `barman show-backup`: /);
    expect(error.message).toContain("failure contacting PostgreSQL"); // the raw output is quoted
  });

  test("not JSON -> BarmanOutputError", () => {
    outputError(() => parseShowBackup("{", SERVER));
  });

  test("a begin_time without offset -> plain Error from the timestamp parser", () => {
    const value = JSON.parse(SHOW_BACKUP);
    value[SERVER].base_backup_information.begin_time = "2026-11-25 08:26:25.161689";
    expect(() => parseShowBackup(JSON.stringify(value), SERVER)).toThrow("not a timestamp with a UTC offset: '2026-11-25 08:26:25.161689'");
  });
});

describe("parseBarmanTimestamp", () => {
  test.each([
    ["2026-11-25 08:26:25.161689+00:00", "2026-11-25T08:26:25.161Z"],
    ["2026-11-25 08:26:27.246569+00:00", "2026-11-25T08:26:27.246Z"],
    ["2026-11-25 09:26:25+01:00", "2026-11-25T08:26:25.000Z"],
    ["2026-11-25 08:26:25-03:30", "2026-11-25T11:56:25.000Z"],
    ["2026-11-25 08:26:25+0100", "2026-11-25T07:26:25.000Z"],
    ["2026-11-25T08:26:25Z", "2026-11-25T08:26:25.000Z"],
  ])("%s -> %s", (text, iso) => {
    expect(parseBarmanTimestamp(text).toISOString()).toBe(iso);
  });

  test.each(["2026-11-25 08:26:25.161689", "2026-11-25", "garbage", "garbage+00:00", "", "2026-11-25 08:26:25 +00:00"])("%j is rejected", (text) => {
    expect(() => parseBarmanTimestamp(text)).toThrow(`not a timestamp with a UTC offset: '${text}'`);
  });
});

describe("parseWalsDirectory", () => {
  test("the real show-server", () => {
    expect(parseWalsDirectory(SHOW_SERVER, SERVER)).toBe("/var/lib/barman/pg-primary/wals");
  });

  test("missing server -> BarmanOutputError", () => {
    expect(outputError(() => parseWalsDirectory(SHOW_SERVER, "pg-other")).message).toMatch(
      /^Unexpected output from `barman show-server`: no wals_directory for server 'pg-other'\n/,
    );
  });

  test("empty wals_directory -> BarmanOutputError", () => {
    outputError(() => parseWalsDirectory(JSON.stringify({ [SERVER]: { wals_directory: "" } }), SERVER));
  });

  test("wals_directory missing or not a string -> BarmanOutputError", () => {
    outputError(() => parseWalsDirectory(JSON.stringify({ [SERVER]: { name: SERVER } }), SERVER));
    outputError(() => parseWalsDirectory(JSON.stringify({ [SERVER]: { wals_directory: null } }), SERVER));
  });

  test("not JSON -> BarmanOutputError", () => {
    expect(outputError(() => parseWalsDirectory("EXCEPTION: ...", SERVER)).message).toMatch(/`barman show-server`: not JSON/);
  });
});

describe("parseBackupId", () => {
  test("the real `barman backup` output", () => {
    const output =
      "Starting backup using postgres method for server pg-primary in /var/lib/barman/pg-primary/base/20261125T083442\n" +
      "Backup start at LSN: 0/2E2FC18 (000000010000000000000002, 00E2FC18)";
    expect(parseBackupId(output)).toBe("20261125T083442");
  });

  test("another backup method and server", () => {
    expect(parseBackupId("Starting backup using rsync-concurrent method for server main in /srv/barman/main/base/20250101T000102\n")).toBe("20250101T000102");
  });

  test.each([
    "",
    "ERROR: Impossible to start the backup. Check the log for more details",
    "Starting backup using postgres method for server pg-primary in /var/lib/barman/pg-primary/base/latest",
    "Backup start at LSN: 0/2E2FC18 (000000010000000000000002, 00E2FC18)",
  ])("no backup id in %j -> BarmanOutputError", (output) => {
    const error = outputError(() => parseBackupId(output));
    expect(error.message).toBe(`Unexpected output from \`barman backup\`: no backup id announced\n${output}`);
  });
});

describe("recoverSucceeded", () => {
  test("the success sentence, anywhere in the output", () => {
    expect(RECOVERY_PREPARED).toBe("Your PostgreSQL server has been successfully prepared for recovery!");
    const output = [
      "Starting local restore for server pg-primary using backup 20261125T082625",
      "Destination directory: /var/lib/postgresql/data",
      "Doing PITR. Recovery target time: '2026-11-25 08:29:31.371652+00:00'",
      "Copying the base backup.",
      "Copying required WAL segments.",
      "Generating archive status files",
      "Identify dangerous settings in destination directory.",
      "",
      "Recovery completed (start time: 2026-11-25 08:29:33.110461+00:00, elapsed time: 2 seconds)",
      "Your PostgreSQL server has been successfully prepared for recovery!",
    ].join("\n");
    expect(recoverSucceeded(output)).toBe(true);
  });

  test.each(["", "ERROR: Cannot recover from backup '20261125T082625' of server 'pg-primary': backup status is not DONE", "successfully prepared"])(
    "%j -> false",
    (output) => {
      expect(recoverSucceeded(output)).toBe(false);
    },
  );
});

describe("WAL segment names", () => {
  test.each([
    ["000000010000000000000003", true],
    ["00000001000000000000000A", true],
    ["FFFFFFFFFFFFFFFFFFFFFFFF", true],
    ["00000001000000000000000a", false], // PostgreSQL writes upper case
    ["00000002.history", false],
    ["000000010000000000000003.00000028.backup", false],
    ["000000010000000000000003.partial", false],
    ["00000001000000000000003", false], // 23 digits
    ["0000000100000000000000030", false], // 25 digits
    ["", false],
  ])("isWalSegmentName(%j) = %s", (name, expected) => {
    expect(isWalSegmentName(name)).toBe(expected);
  });

  test("segmentTimeline reads the first 8 hex digits", () => {
    expect(segmentTimeline("000000010000000000000016")).toBe(1);
    expect(segmentTimeline("000000020000000000000016")).toBe(2);
    expect(segmentTimeline("0000000A0000000000000016")).toBe(10);
    expect(segmentTimeline("000001000000000000000001")).toBe(256);
  });

  test("segmentTimeline rejects other names", () => {
    expect(() => segmentTimeline("00000002.history")).toThrow("not a WAL segment name: '00000002.history'");
  });

  test("archivedSegmentPath: wals/<first 16 hex digits>/<segment>", () => {
    expect(archivedSegmentPath("/var/lib/barman/pg-primary/wals", "000000010000000000000003")).toBe(
      "/var/lib/barman/pg-primary/wals/0000000100000000/000000010000000000000003",
    );
    expect(archivedSegmentPath("/w", "0000000200000001000000FF")).toBe("/w/0000000200000001/0000000200000001000000FF");
  });

  test("archivedSegmentPath rejects other names", () => {
    expect(() => archivedSegmentPath("/w", "00000002.partial")).toThrow("not a WAL segment name: '00000002.partial'");
    expect(() => archivedSegmentPath("/w", "0000000100000000000000")).toThrow("not a WAL segment name: '0000000100000000000000'");
  });

  test("compareSegmentPosition orders by position, hex digits included", () => {
    expect(compareSegmentPosition("000000010000000000000004", "000000010000000000000003")).toBeGreaterThan(0);
    expect(compareSegmentPosition("000000010000000000000003", "000000010000000000000004")).toBeLessThan(0);
    expect(compareSegmentPosition("00000001000000000000000A", "000000010000000000000009")).toBeGreaterThan(0);
    expect(compareSegmentPosition("000000010000000000000010", "00000001000000000000000F")).toBeGreaterThan(0);
    expect(compareSegmentPosition("000000010000000100000000", "0000000100000000000000FF")).toBeGreaterThan(0);
    expect(compareSegmentPosition("000000010000000000000016", "000000010000000000000016")).toBe(0);
  });

  test("compareSegmentPosition ignores the timeline", () => {
    expect(compareSegmentPosition("000000020000000000000003", "000000010000000000000003")).toBe(0);
    expect(compareSegmentPosition("000000010000000000000017", "000000020000000000000016")).toBeGreaterThan(0);
    expect(compareSegmentPosition("000000020000000000000016", "000000010000000000000017")).toBeLessThan(0);
  });

  test("compareSegmentPosition sorts a shuffled list like PostgreSQL does", () => {
    const sorted = ["000000010000000000000009", "00000001000000000000000A", "00000001000000000000000F", "000000010000000000000010", "0000000100000001000000FF"];
    expect([...sorted].reverse().sort(compareSegmentPosition)).toEqual(sorted);
  });

  test("compareSegmentPosition rejects other names", () => {
    expect(() => compareSegmentPosition("00000002.history", "000000010000000000000003")).toThrow(
      "not WAL segment names: '00000002.history', '000000010000000000000003'",
    );
    expect(() => compareSegmentPosition("000000010000000000000003", "")).toThrow("not WAL segment names");
  });
});

describe("walSegmentRange", () => {
  test("one segment: from and through the same", () => {
    expect(walSegmentRange("000000010000000000000016", "000000010000000000000016")).toEqual(["000000010000000000000016"]);
  });

  test("consecutive segments in order, hex digits upper case", () => {
    expect(walSegmentRange("000000010000000000000009", "00000001000000000000000C")).toEqual([
      "000000010000000000000009",
      "00000001000000000000000A",
      "00000001000000000000000B",
      "00000001000000000000000C",
    ]);
  });

  test("across a log-file boundary: ...00FF is followed by the next log file's ...00", () => {
    expect(walSegmentRange("0000000100000000000000FE", "000000010000000100000001")).toEqual([
      "0000000100000000000000FE",
      "0000000100000000000000FF",
      "000000010000000100000000",
      "000000010000000100000001",
    ]);
  });

  test("the timeline of the range is kept in every name", () => {
    expect(walSegmentRange("0000000200000000000000FF", "000000020000000100000000")).toEqual(["0000000200000000000000FF", "000000020000000100000000"]);
  });

  test("the backup's first segment through the disaster's, as in the real run: 20 segments", () => {
    const range = walSegmentRange("000000010000000000000003", "000000010000000000000016");
    expect(range).toHaveLength(20);
    expect(range[0]).toBe("000000010000000000000003");
    expect(range.at(-1)).toBe("000000010000000000000016");
    expect([...range].sort(compareSegmentPosition)).toEqual(range);
  });

  test("fewer segments per log file (larger WAL segments) roll over earlier", () => {
    expect(walSegmentRange("00000001000000000000003F", "000000010000000100000000", 64)).toEqual(["00000001000000000000003F", "000000010000000100000000"]);
  });

  test("different timelines are refused", () => {
    expect(() => walSegmentRange("000000010000000000000016", "000000020000000000000017")).toThrow(
      "WAL segments 000000010000000000000016 and 000000020000000000000017 are on different timelines: name a range on one timeline",
    );
  });

  test("a reversed range is refused", () => {
    expect(() => walSegmentRange("000000010000000000000017", "000000010000000000000016")).toThrow(
      "WAL segment 000000010000000000000016 comes before 000000010000000000000017",
    );
    expect(() => walSegmentRange("000000010000000100000000", "0000000100000000000000FF")).toThrow(
      "WAL segment 0000000100000000000000FF comes before 000000010000000100000000",
    );
  });

  test("names that are not WAL segments are refused", () => {
    expect(() => walSegmentRange("00000002.history", "000000020000000000000003")).toThrow("not a WAL segment name: '00000002.history'");
    expect(() => walSegmentRange("000000010000000000000003", "000000010000000000000003.partial")).toThrow(
      "not a WAL segment name: '000000010000000000000003.partial'",
    );
  });
});

describe("fixed bugs (regression tests)", () => {
  // Barman 3.4's JSON writer always emits the server's key (init_list_backup sets it to []), so a
  // missing key means the output is not the one asked for; it is read as "no backups" instead.
  test("parseListBackup: no result for the server -> BarmanOutputError", () => {
    outputError(() => parseListBackup(LIST_BACKUP, "pg-other"));
  });
});

describe("Barman's message keys in JSON output", () => {
  test("a top-level _WARNING beside the server is not taken for a server", () => {
    const raw = JSON.stringify({
      _WARNING: ["No backup strategy set for server 'pg-primary' (using default 'concurrent_backup')."],
      "pg-primary": { ssh: { hint: "PostgreSQL server", status: "OK" }, wal_level: { hint: "", status: "FAILED" } },
    });
    expect(parseCheck(raw, "pg-primary")).toEqual([
      { check: "ssh", ok: true, hint: "PostgreSQL server" },
      { check: "wal level", ok: false, hint: "" },
    ]);
  });
});

describe("newer Barman versions: output captured from Barman 3.13.3 (PostgreSQL 17) and 3.20.1 (PostgreSQL 18)", () => {
  // Captured by the commands in samples/README-barman-versions.md; their server is named "pg".
  test.each([
    ["3.13", 170007],
    ["3.20", 180006],
  ])("Barman %s: show-backup of a full and an incremental backup, sizes from backup_size_bytes", (version, postgresVersion) => {
    const full = parseShowBackup(sample(`barman-${version}-show-backup-full.json`), "pg");
    const incremental = parseShowBackup(sample(`barman-${version}-show-backup-incremental.json`), "pg");
    expect([full.backupType, full.parentBackupId]).toEqual(["full", undefined]);
    expect([incremental.backupType, incremental.parentBackupId]).toEqual(["incremental", full.backupId]);
    expect(full.sizeBytes).toBeGreaterThan(incremental.sizeBytes);
    expect(Math.floor(full.postgresVersion / 10000)).toBe(Math.floor(postgresVersion / 10000));
    expect(full.endTime.getTime()).toBeGreaterThan(full.beginTime.getTime());
    expect(full.beginWal).toMatch(/^[0-9A-F]{24}$/);
  });

  test.each(["3.13", "3.20"])("Barman %s: list-backup and check parse as in 3.4", (version) => {
    const listed = parseListBackup(sample(`barman-${version}-list-backup.json`), "pg");
    expect(listed.map((b) => b.status)).toEqual(["DONE", "DONE"]);
    const lines = parseCheck(sample(`barman-${version}-check.json`), "pg");
    expect(lines.find((l) => l.check === "receive wal running")?.ok).toBe(true);
    expect(parseCheck(sample(`barman-${version}-check-failing.json`), "pg").some((l) => !l.ok)).toBe(true);
  });
});

describe("an encrypted backup in show-backup (Barman 3.20, tests/unit/samples/real-hosts)", () => {
  const real = (name: string): string => readFileSync(new URL(`./samples/real-hosts/${name}`, import.meta.url), "utf8");
  test("base_backup_information.encryption says gpg; older versions and plain backups say nothing", () => {
    expect(parseShowBackup(real("barman-3.20-show-backup-pg18-tar-gpg.json.stdout.txt"), "pg18-tar-gpg").encryption).toBe("gpg");
    expect(parseShowBackup(real("barman-3.4-show-backup-pg15-tar-gzip.json.stdout.txt"), "pg15-tar-gzip").encryption).toBeNull();
  });
});
