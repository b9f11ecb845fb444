// The nightly verification's command line, read and checked without running it (the CLI itself is
// spawned by the nightly drill tests): every problem in one sentence each, the recovery target the
// options give, and the servers and checks a configuration makes of them.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { parseVerifyCommandLine, selectServers, type VerifyArgs } from "../../src/cli/verify-command-line.ts";
import type { DrillConfig } from "../../src/drill/drill-config.ts";

const SSH = ["--barman-ssh", "barman@backup-host"];
const scratch = mkdtempSync(join(tmpdir(), "pgdrill-verify-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function problemsOf(argv: string[]): string[] {
  const parsed = parseVerifyCommandLine(argv);
  return "problems" in parsed ? parsed.problems : [];
}
function argsOf(argv: string[]): VerifyArgs {
  const parsed = parseVerifyCommandLine(argv);
  if ("problems" in parsed) throw new Error(`unexpected problems: ${parsed.problems.join("; ")}`);
  return parsed.args;
}

describe("parseVerifyCommandLine", () => {
  test("--help alone is enough", () => {
    expect(argsOf(["--help"]).help).toBe(true);
  });

  test("a Barman host is required, and only one of the two ways to reach it", () => {
    expect(problemsOf(["--server", "pg"])).toEqual([
      "--barman-container or --barman-ssh is required (the Barman server's container, or USER@HOST of the Barman host)",
    ]);
    expect(problemsOf(["--barman-container", "barman", ...SSH, "--server", "pg"])).toEqual(["give either --barman-container or --barman-ssh, not both"]);
  });

  test("every problem is reported at once: unknown options, missing values, stray arguments and bad values", () => {
    expect(problemsOf([...SSH, "stray", "--no-such-option", "--ssh-port", "70000", "--backup", "yesterday", "--target-lsn"])).toEqual([
      "unexpected argument 'stray' (every value follows its option, e.g. --server NAME)",
      "--ssh-port: must be a port number (1-65535)",
      "--backup: must be latest or a Barman backup id such as 20261125T082625",
      "--target-lsn needs a value",
      "unknown option --no-such-option",
    ]);
  });

  test("options that only go with another are refused without it", () => {
    expect(problemsOf(["--barman-container", "barman", "--ssh-port", "2222", "--exclusive", "--verification-host-port", "22"])).toEqual([
      "--ssh-port only goes with --barman-ssh",
      "--verification-host-port only goes with --verification-host",
      "--exclusive only goes with --target-xid or --target-lsn",
    ]);
  });

  test("a verification host needs the command the Barman host reaches it with", () => {
    expect(problemsOf([...SSH, "--verification-host", "postgres@verify-host"])).toEqual([
      "--verification-host and --remote-ssh-command go together: how this command reaches the verification host, and how the Barman host does",
    ]);
    expect(problemsOf([...SSH, "--verification-host", "postgres@verify-host", "--remote-ssh-command", "ssh postgres@verify-host"])).toEqual([]);
  });

  test("an identity or known_hosts file that does not exist is named", () => {
    const key = join(scratch, "id_barman");
    writeFileSync(key, "key");
    expect(problemsOf([...SSH, "--ssh-identity", key])).toEqual([]);
    expect(problemsOf([...SSH, "--ssh-known-hosts", join(scratch, "missing")])).toEqual([`--ssh-known-hosts ${join(scratch, "missing")}: no such file`]);
  });

  test("at most one recovery target and one way to choose servers", () => {
    expect(problemsOf([...SSH, "--target-immediate", "--target-name", "before_disaster", "--server", "a", "--all-servers"])).toEqual([
      "give at most one recovery target, not --target-name and --target-immediate",
      "give one of --server, --servers and --all-servers, not --server and --all-servers",
    ]);
  });

  test.each<[string[], unknown]>([
    [[], { kind: "latest" }],
    [["--target-immediate"], { kind: "immediate" }],
    [["--target-time", "2026-11-25 08:29:31+00"], { kind: "time", time: "2026-11-25 08:29:31+00" }],
    [["--target-name", "before_disaster"], { kind: "name", name: "before_disaster" }],
    [["--target-xid", "742", "--exclusive"], { kind: "xid", xid: 742, exclusive: true }],
    [["--target-lsn", "0/3000060"], { kind: "lsn", lsn: "0/3000060", exclusive: false }],
  ])("%j recovers to %j", (options, target) => {
    const parsed = parseVerifyCommandLine([...SSH, ...options]);
    expect("target" in parsed ? parsed.target : parsed).toEqual(target);
  });

  test("a time without a UTC offset is refused: it would be read in the Barman host's time zone", () => {
    expect(problemsOf([...SSH, "--target-time", "2026-11-25 08:29:31"])).toEqual([
      "--target-time: must be a timestamp with a UTC offset, e.g. 2026-11-25 08:29:31+00",
    ]);
  });

  test("a database given as a connection string is refused: a check must never reach another server", () => {
    expect(problemsOf([...SSH, "--database", "host=prod dbname=shop"])).toEqual(["--database: must be a database name (no '=', no URI)"]);
  });
});

describe("selectServers", () => {
  const config: DrillConfig = {
    name: "team",
    database: "shop",
    barman: { serverName: "pg-primary" },
    nightly: { checks: [{ name: "users", sql: "SELECT count(*) FROM users", expected: [[1000]] }] },
  };

  test("without --server, the configuration's server; its checks and database", () => {
    const selection = selectServers(argsOf(SSH), config, "team.config.ts", true);
    expect(selection).toEqual({ servers: ["pg-primary"], overrides: { database: undefined, amcheck: false, pgDump: false, freshness: {} }, problems: [] });
  });

  test("without a configuration: the built-in checks over the maintenance database, and a server must be named", () => {
    const none: DrillConfig = { name: "built-in checks only" };
    expect(selectServers(argsOf(SSH), none, "(none)", false).problems).toEqual([
      "--server, --servers or --all-servers is required (or set config.barman.serverName): Barman's name for the PostgreSQL server",
    ]);
    const selection = selectServers(argsOf([...SSH, "--servers", "a,b", "--max-backup-age", "26h"]), none, "(none)", false);
    expect(selection).toEqual({
      servers: ["a", "b"],
      overrides: { database: "postgres", amcheck: true, pgDump: true, freshness: { maxBackupAgeS: 26 * 3600 } },
      problems: [],
    });
  });

  test("a named configuration without nightly checks is refused before anything runs", () => {
    const { nightly: _, ...withoutNightly } = config;
    expect(selectServers(argsOf(SSH), withoutNightly, "team.config.ts", true).problems).toEqual([
      expect.stringMatching(/^team\.config\.ts: config\.nightly is not set; give the checks to run/),
    ]);
  });

  test("--all-servers is planned per server later: a server without checks is that server's red result, not a refusal", () => {
    const selection = selectServers(argsOf([...SSH, "--all-servers"]), { ...config, nightly: {} }, "team.config.ts", true);
    expect(selection.servers).toBe("all");
    expect(selection.problems).toEqual([]);
    expect(selectServers(argsOf([...SSH, "--server", "pg"]), { ...config, nightly: {} }, "team.config.ts", true).problems).toEqual([
      "team.config.ts: no checks for server 'pg': give nightly.checks or nightly.servers.pg.checks, or switch on amcheck or pgDump (--amcheck, --pg-dump); a verification without checks proves nothing",
    ]);
  });
});
