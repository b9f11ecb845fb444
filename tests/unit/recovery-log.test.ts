import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { readRecoveryLog } from "../../src/postgres/recovery-log.ts";

// A real PostgreSQL 15 log of an instance recovered by `barman recover` with a target time.
const RECOVERED = readFileSync(new URL("./samples/postgres-15-recovered-instance.log", import.meta.url), "utf8");

// What PostgreSQL 15 logs when the archived WAL ends before the recovery target.
const TARGET_NOT_REACHED = [
  "2026-11-25 08:29:37.024 UTC [1] LOG:  starting PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit",
  "2026-11-25 08:29:37.131 UTC [15] LOG:  starting point-in-time recovery to 2026-11-25 09:00:00+00",
  '2026-11-25 08:29:37.167 UTC [15] LOG:  restored log file "000000010000000000000003" from archive',
  "2026-11-25 08:29:37.174 UTC [15] LOG:  redo starts at 0/3000028",
  "2026-11-25 08:29:37.231 UTC [15] LOG:  consistent recovery state reached at 0/3000100",
  "2026-11-25 08:29:37.232 UTC [1] LOG:  database system is ready to accept read-only connections",
  "cp: cannot stat 'barman_wal/000000010000000000000004': No such file or directory",
  "2026-11-25 08:29:37.240 UTC [15] LOG:  redo done at 0/3000100 system usage: CPU: user: 0.00 s, system: 0.00 s, elapsed: 0.06 s",
  "2026-11-25 08:29:37.240 UTC [15] LOG:  last completed transaction was at log time 2026-11-25 08:26:26.100000+00",
  "2026-11-25 08:29:37.241 UTC [15] FATAL:  recovery ended before configured recovery target was reached",
  "2026-11-25 08:29:37.243 UTC [1] LOG:  startup process (PID 15) exited with exit code 1",
  "2026-11-25 08:29:37.243 UTC [1] LOG:  terminating any other active server processes",
  "2026-11-25 08:29:37.245 UTC [1] LOG:  shutting down due to startup process failure",
  "2026-11-25 08:29:37.250 UTC [1] LOG:  database system is shut down",
  "",
].join("\n");

// Still replaying (hot standby), not promoted yet.
const STILL_REPLAYING = [
  "2026-11-25 08:29:37.131 UTC [15] LOG:  starting point-in-time recovery to 2026-11-25 08:29:31.371652+00",
  "2026-11-25 08:29:37.231 UTC [15] LOG:  consistent recovery state reached at 0/3000100",
  "2026-11-25 08:29:37.232 UTC [1] LOG:  database system is ready to accept read-only connections",
  '2026-11-25 08:29:37.286 UTC [15] LOG:  restored log file "000000010000000000000005" from archive',
  "",
].join("\n");

describe("readRecoveryLog: the real PostgreSQL 15 log of a recovered instance", () => {
  const facts = readRecoveryLog(RECOVERED);

  test("the PITR target it started with", () => {
    expect(facts.pitrTarget).toBe("2026-11-25 08:29:31.371652+00");
  });

  test("stopped before the commit of transaction 767, with that commit's time", () => {
    expect(facts.stoppedBeforeCommit).toEqual({ xid: 767, time: "2026-11-25 08:29:31.444373+00" });
  });

  test("no restore point, new timeline 2, promoted, nothing fatal", () => {
    expect(facts.stoppedAtRestorePoint).toBeUndefined();
    expect(facts.newTimeline).toBe(2);
    expect(facts.promoted).toBe(true);
    expect(facts.fatalLines).toEqual([]);
  });

  test("recovery lines: the story of the recovery, without cp noise or unrelated lines", () => {
    const lines = facts.recoveryLines;
    // 12 narrative lines + 21 "restored log file" (segments 03..16, and 16 again at the end).
    expect(lines).toHaveLength(33);
    expect(lines.filter((l) => l.includes("restored log file"))).toHaveLength(21);
    expect(lines[0]).toBe("2026-11-25 08:29:37.131 UTC [15] LOG:  starting point-in-time recovery to 2026-11-25 08:29:31.371652+00");
    expect(lines.at(-1)).toBe("2026-11-25 08:29:38.467 UTC [1] LOG:  database system is ready to accept connections");
    for (const expected of [
      "2026-11-25 08:29:37.174 UTC [15] LOG:  redo starts at 0/3000028",
      "2026-11-25 08:29:37.231 UTC [15] LOG:  consistent recovery state reached at 0/3000100",
      "2026-11-25 08:29:37.232 UTC [1] LOG:  database system is ready to accept read-only connections",
      "2026-11-25 08:29:38.299 UTC [15] LOG:  recovery stopping before commit of transaction 767, time 2026-11-25 08:29:31.444373+00",
      "2026-11-25 08:29:38.358 UTC [15] LOG:  selected new timeline ID: 2",
      "2026-11-25 08:29:38.388 UTC [15] LOG:  archive recovery complete",
      "2026-11-25 08:29:38.389 UTC [13] LOG:  checkpoint starting: end-of-recovery immediate wait",
    ]) {
      expect(lines).toContain(expected);
    }
    expect(lines.some((l) => l.startsWith("cp: cannot stat"))).toBe(false);
    expect(lines.some((l) => l.includes("listening on"))).toBe(false);
    expect(lines.some((l) => l.includes("last completed transaction"))).toBe(false);
  });

  test("recovery lines keep the log's order", () => {
    const all = RECOVERED.split("\n");
    const positions = facts.recoveryLines.map((l) => all.indexOf(l));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true);
  });
});

describe("readRecoveryLog: recovery that never reached its target", () => {
  const facts = readRecoveryLog(TARGET_NOT_REACHED);

  test("not promoted, and the FATAL line is reported", () => {
    expect(facts.promoted).toBe(false);
    expect(facts.fatalLines).toEqual(["2026-11-25 08:29:37.241 UTC [15] FATAL:  recovery ended before configured recovery target was reached"]);
  });

  test("no stop point, no new timeline; the target it aimed for is still read", () => {
    expect(facts.pitrTarget).toBe("2026-11-25 09:00:00+00");
    expect(facts.stoppedBeforeCommit).toBeUndefined();
    expect(facts.stoppedAtRestorePoint).toBeUndefined();
    expect(facts.newTimeline).toBeUndefined();
  });

  test("the FATAL line is part of the recovery story too", () => {
    expect(facts.recoveryLines).toContain("2026-11-25 08:29:37.241 UTC [15] FATAL:  recovery ended before configured recovery target was reached");
    expect(facts.recoveryLines).toContain("2026-11-25 08:29:37.232 UTC [1] LOG:  database system is ready to accept read-only connections");
  });

  test("PANIC lines count as fatal as well", () => {
    const log = `${TARGET_NOT_REACHED}2026-11-25 08:29:38.000 UTC [15] PANIC:  could not locate a valid checkpoint record\n`;
    expect(readRecoveryLog(log).fatalLines).toEqual([
      "2026-11-25 08:29:37.241 UTC [15] FATAL:  recovery ended before configured recovery target was reached",
      "2026-11-25 08:29:38.000 UTC [15] PANIC:  could not locate a valid checkpoint record",
    ]);
  });
});

describe("readRecoveryLog: hot standby only", () => {
  test("'ready to accept read-only connections' alone is not a promotion", () => {
    const facts = readRecoveryLog(STILL_REPLAYING);
    expect(facts.promoted).toBe(false);
    expect(facts.newTimeline).toBeUndefined();
    expect(facts.fatalLines).toEqual([]);
    expect(facts.pitrTarget).toBe("2026-11-25 08:29:31.371652+00");
  });
});

describe("readRecoveryLog: other targets", () => {
  test("stop at a named restore point", () => {
    const log = [
      '2026-11-25 08:29:37.131 UTC [15] LOG:  starting point-in-time recovery to "before_disaster"',
      '2026-11-25 08:29:38.299 UTC [15] LOG:  recovery stopping at restore point "before_disaster", time 2026-11-25 08:29:31.371652+00',
      "2026-11-25 08:29:38.358 UTC [15] LOG:  selected new timeline ID: 3",
      "2026-11-25 08:29:38.467 UTC [1] LOG:  database system is ready to accept connections",
    ].join("\n");
    const facts = readRecoveryLog(log);
    expect(facts.pitrTarget).toBe('"before_disaster"');
    expect(facts.stoppedAtRestorePoint).toBe("before_disaster");
    expect(facts.stoppedBeforeCommit).toBeUndefined();
    expect(facts.newTimeline).toBe(3);
    expect(facts.promoted).toBe(true);
  });

  test("restore_command's cp noise is left out even when its path contains a keyword", () => {
    const log = [
      "cp: cannot stat '/srv/recovery/barman_wal/00000002.history': No such file or directory",
      '2026-11-25 08:29:37.167 UTC [15] LOG:  restored log file "000000010000000000000003" from archive',
    ].join("\n");
    expect(readRecoveryLog(log).recoveryLines).toEqual(['2026-11-25 08:29:37.167 UTC [15] LOG:  restored log file "000000010000000000000003" from archive']);
  });

  test("an empty log says nothing", () => {
    expect(readRecoveryLog("")).toEqual({
      pitrTarget: undefined,
      stoppedBeforeCommit: undefined,
      stoppedAtRestorePoint: undefined,
      newTimeline: undefined,
      promoted: false,
      fatalLines: [],
      recoveryLines: [],
    });
  });
});

describe("client connection refusals during start-up", () => {
  test("are not recovery failures", () => {
    const facts = readRecoveryLog(
      [
        "2026-11-25 08:47:50.630 UTC [35] FATAL:  the database system is starting up",
        "2026-11-25 08:47:50.700 UTC [36] FATAL:  the database system is not yet accepting connections",
        "2026-11-25 08:47:51.000 UTC [1] LOG:  database system is ready to accept connections",
      ].join("\n"),
    );
    expect(facts.fatalLines).toEqual([]);
    expect(facts.promoted).toBe(true);
  });

  test("a FATAL from the startup process still counts", () => {
    const line = "2026-11-25 08:47:50.630 UTC [15] FATAL:  recovery ended before configured recovery target was reached";
    expect(readRecoveryLog(`2026-11-25 08:47:50.600 UTC [36] FATAL:  the database system is starting up\n${line}`).fatalLines).toEqual([line]);
  });
});
