// What a DBA reads first when a verification fails (src/nightly/cause.ts): the cause line out of a
// tool's whole output, bounded, and PostgreSQL's FATAL with the LOG line that says why.
import { describe, expect, test } from "vitest";
import { causeFirst, causeLine, causeOf, fatalWithContext } from "../../src/nightly/cause.ts";

/** A disk-full restore as Barman prints it: rsync's file list first, the one line that matters near the end. */
const DISK_FULL = [
  "Starting remote restore for server pg15-rsync using backup 20261203T101010",
  "Destination directory: /var/tmp/pgdrill-verify-x/pgdata",
  ...Array.from({ length: 340 }, (_, i) => `base/16384/${16400 + i}`),
  'rsync: [receiver] write failed on "/var/tmp/pgdrill-verify-x/pgdata/base/16384/16741": No space left on device (28)',
  "rsync error: error in file IO (code 11) at receiver.c(380) [receiver=3.2.7]",
  "ERROR: Failure copying base backup: data transfer failure on directory '/var/tmp/pgdrill-verify-x/pgdata'",
].join("\n");

describe("the cause line comes first (src/nightly/cause.ts)", () => {
  test("a disk-full restore: No space left on device first, at most 20 lines, the rest counted", () => {
    const shown = causeFirst(DISK_FULL, { wholeTextIn: "the JSON report" }).split("\n");
    expect(shown[0]).toMatch(/No space left on device/);
    expect(shown.length).toBeLessThanOrEqual(20);
    expect(shown.join("\n")).toMatch(/\[\.\.\. \d+ more line\(s\), all of them in the JSON report \.\.\.\]/);
    expect(shown.at(-1)).toMatch(/^ERROR: Failure copying base backup/);
    expect(causeOf(DISK_FULL)).toBe("disk full");
  });

  test("a short text is kept whole, the cause moved to the front", () => {
    const text = "Copying required WAL segments.\nssh: connect to host verify-host port 22: Connection refused\nERROR: restore failed";
    expect(causeFirst(text).split("\n")).toEqual([
      "ssh: connect to host verify-host port 22: Connection refused",
      "Copying required WAL segments.",
      "ERROR: restore failed",
    ]);
    expect(causeOf(text)).toBe("ssh");
  });

  test("without a known cause, the last error line; without one, the last line", () => {
    expect(causeLine("step one\nERROR: something odd\nfinished")).toBe("ERROR: something odd");
    expect(causeLine("one\ntwo")).toBe("two");
    expect(causeOf("one\ntwo")).toBe("other");
  });

  test("a missing shared library and a failed decryption are their own classes", () => {
    expect(causeOf('FATAL:  could not access file "timescaledb": No such file or directory')).toBe("missing library");
    expect(causeOf("gpg: decryption failed: Bad passphrase")).toBe("encryption");
  });
});

describe("PostgreSQL's FATAL with the lines that say why (fatalWithContext)", () => {
  test("a Debian cluster's configuration: the LOG line naming conf.d before the FATAL", () => {
    const log = [
      "2026-12-03 08:00:00.000 UTC [7] LOG:  starting PostgreSQL 15.14 (Debian 15.14-0+deb12u1) on x86_64-pc-linux-gnu",
      '2026-12-03 08:00:00.001 UTC [7] LOG:  could not open configuration directory "/var/tmp/pgdrill-verify-x/pgdata/conf.d": No such file or directory',
      '2026-12-03 08:00:00.001 UTC [7] LOG:  configuration file "/var/tmp/pgdrill-verify-x/pgdata/postgresql.conf" contains errors',
      '2026-12-03 08:00:00.002 UTC [7] FATAL:  configuration file "/var/tmp/pgdrill-verify-x/pgdata/postgresql.conf" contains errors',
    ].join("\n");
    const lines = fatalWithContext(log);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/could not open configuration directory .*conf\.d/);
    expect(lines.at(-1)).toMatch(/FATAL: {2}configuration file/);
  });

  test("DETAIL and HINT after the FATAL stay with it; client refusals during start-up are not failures", () => {
    const log = [
      "LOG:  database system was interrupted; last known up at 2026-12-03 07:59:00 UTC",
      "FATAL:  the database system is starting up",
      "FATAL:  requested timeline 2 is not a child of this server's history",
      "DETAIL:  Latest checkpoint is at 0/3000060 on timeline 1, but in the history of the requested timeline, the server forked off from that timeline at 0/2000100.",
      "LOG:  startup process (PID 9) exited with exit code 1",
    ].join("\n");
    expect(fatalWithContext(log)).toEqual([log.split("\n")[2], log.split("\n")[3]]);
  });
});
