import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { backupStorageOf, barmanJsonErrors, barmanRestoreVerb, barmanStagingOption } from "../../containers/barman/barman-client.ts";
import { BARMAN_ROLE_GRANTS, barmanRoleStatements, sqlLiteral } from "../../containers/barman/barman-roles.ts";

const sample = (name: string): string => readFileSync(new URL(`./samples/${name}`, import.meta.url), "utf8");

describe("barmanRestoreVerb: `recover` became `restore` in Barman 3.12", () => {
  test.each([
    ["3.4.0 Barman by EnterpriseDB (www.enterprisedb.com)", "recover"],
    ["3.11.1 Barman by EnterpriseDB (www.enterprisedb.com)", "recover"],
    ["3.12.0 Barman by EnterpriseDB (www.enterprisedb.com)", "restore"],
    [sample("barman-3.13-version.txt").split("\n")[0]!, "restore"],
    [sample("barman-3.20-version.txt").split("\n")[0]!, "restore"],
    ["4.0.0", "restore"],
  ])("%s -> %s", (version, verb) => {
    expect(barmanRestoreVerb(version)).toBe(verb);
  });

  test("a line without a version is refused with its text", () => {
    expect(() => barmanRestoreVerb("command not found")).toThrow("cannot read a Barman version from 'command not found'");
  });
});

describe("barmanJsonErrors", () => {
  test.each(["3.13", "3.20"])("Barman %s: an unknown server, in Barman's words", (version) => {
    expect(barmanJsonErrors(sample(`barman-${version}-show-backup-nosuch.json`))).toEqual(["Unknown server 'nosuch'"]);
  });

  test("no _ERROR key, or no JSON at all: no errors", () => {
    expect(barmanJsonErrors('{"pg": {}}')).toEqual([]);
    expect(barmanJsonErrors("not json")).toEqual([]);
  });
});

describe("how a backup is kept, from its data directory's listing (backupStorageOf)", () => {
  test("a plain data directory (rsync, or postgres without compression)", () => {
    expect(backupStorageOf(["PG_VERSION", "base", "global", "pg_wal", "postgresql.conf"])).toEqual({ format: "plain", compression: null, manifest: false });
    expect(backupStorageOf(["PG_VERSION", "backup_label", "backup_manifest", "base"])).toEqual({ format: "plain", compression: null, manifest: true });
  });
  test("pg_basebackup's tar files, each compression by its suffix", () => {
    expect(backupStorageOf(["backup_manifest", "base.tar.gz", "pg_wal.tar.gz"])).toEqual({ format: "tar", compression: "gzip", manifest: true });
    expect(backupStorageOf(["backup_manifest", "base.tar.lz4", "pg_wal.tar.lz4"]).compression).toBe("lz4");
    expect(backupStorageOf(["backup_manifest", "base.tar.zst", "pg_wal.tar.zst"]).compression).toBe("zstd");
    expect(backupStorageOf(["backup_manifest", "base.tar", "pg_wal.tar"])).toEqual({ format: "tar", compression: null, manifest: true });
  });
});

describe("each Barman version's staging option for a compressed backup (barmanStagingOption)", () => {
  test("--recovery-staging-path up to 3.14, --staging-path from 3.15", () => {
    expect(barmanStagingOption("3.4.0 Barman by EnterpriseDB (www.enterprisedb.com)")).toBe("--recovery-staging-path");
    expect(barmanStagingOption("3.13.3 Barman by EnterpriseDB (www.enterprisedb.com)")).toBe("--recovery-staging-path");
    expect(barmanStagingOption("3.14.1")).toBe("--recovery-staging-path");
    expect(barmanStagingOption("3.15.0")).toBe("--staging-path");
    expect(barmanStagingOption("3.20.1 Barman by EnterpriseDB (www.enterprisedb.com)")).toBe("--staging-path");
  });
});

describe("Barman's roles (containers/barman/barman-roles.ts)", () => {
  test("barman first with its grants, streaming_barman last; passwords as SQL literals with ' doubled", () => {
    const statements = barmanRoleStatements({ barman: "b'1", streaming: "s2" });
    expect(statements[0]).toBe("CREATE ROLE barman LOGIN PASSWORD 'b''1'");
    expect(statements.slice(1, -1)).toEqual([...BARMAN_ROLE_GRANTS]);
    expect(statements.at(-1)).toBe("CREATE ROLE streaming_barman LOGIN REPLICATION PASSWORD 's2'");
    expect(sqlLiteral("it's")).toBe("'it''s'");
  });
});
