// The nightly verification against a Barman host set up the way Barman's documentation and Debian's
// packages set one up (tests/support/barman-docs-host.ts), reached only over SSH: PostgreSQL 15 in
// Debian's pg_createcluster layout (configuration under /etc/postgresql, data checksums on) backed
// up with the classic rsync method, barman-wal-archive and gzip WAL, no manifest; PostgreSQL 17
// backed up with the postgres method as gzip and lz4 tar files; on Barman 3.20 zstd tar and
// GPG-encrypted ones, on 3.4 `barman recover`; WAL compressed with gzip, bzip2, lz4 and zstd. Healthy, both are green with every archived
// WAL segment replayed; a backup that cannot be checked against a manifest is "not verified", never
// damaged. Then the faults, each caught at the earliest phase with its cause first and nothing left
// behind: flipped bytes in the manifest-less backup, pg_verifybackup missing, a full work disk,
// sshd killed mid-transfer (the next run sweeps the copy it left), a WAL gap.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, inject } from "vitest";
import { readSettings } from "../../src/drill/config.ts";
import type { FleetReport } from "../../src/nightly/fleet-report.ts";
import type { NightlyResult } from "../../src/nightly/nightly-result.ts";
import { orderedScenario } from "../../src/suite/ordered-steps.ts";
import {
  type DocsBarmanHost,
  type DocsBarmanHostBase,
  type DocsBarmanVersion,
  type DocsServer,
  type DocsServerName,
  startDocsBarmanHost,
} from "../support/barman-docs-host.ts";
import { barmanSshArgs, type CliRun, runNightlyCli } from "../support/nightly-cli.ts";
import { leftoverThrowaways } from "../support/nightly-evidence.ts";

const run = inject("drillRun");
const settings = readSettings();
const say = (line: string): void => console.log(`[nightly-real-hosts ${run.runId}] ${line}`);

beforeEach(async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("Nightly verification of an existing Barman server");
  await allure.story("A Barman host set up as Barman's documentation and Debian's packages do");
  await allure.parameter("run id", run.runId);
});

/** The CLI as a team runs it against one docs host (SSH only), and what a test reads back from its outputs. */
function nightlySession<V extends DocsBarmanVersion>(host: DocsBarmanHostBase<V>, work: string) {
  const file = (name: string): string => join(work, name);
  const verify = (extra: string[], onStderrLine?: Parameters<typeof runNightlyCli>[1]["onStderrLine"]): Promise<CliRun> =>
    runNightlyCli(
      [
        ...barmanSshArgs(host.ssh),
        "--report",
        file("nightly.json"),
        "--junit",
        file("nightly-junit.xml"),
        "--allure-results",
        file("allure-results"),
        ...extra,
      ],
      { say, onStderrLine },
    );
  const report = async (): Promise<FleetReport> => JSON.parse(await readFile(file("nightly.json"), "utf8")) as FleetReport;
  const only = async (server: DocsServerName): Promise<NightlyResult> => {
    const r = await report();
    expect(r.servers.map((s) => s.server)).toEqual([server]);
    return r.servers[0]!;
  };
  const workDirectories = async (): Promise<string[]> =>
    (await host.barmanExec(`find /var/tmp ${host.workDisk.path} -maxdepth 1 -name 'pgdrill-verify-*'`, "root")).split("\n").filter(Boolean);
  const nothingLeft = async (): Promise<void> => {
    expect(await workDirectories(), "restored copies on the Barman host").toEqual([]);
    expect(await leftoverThrowaways(), "throwaway instances in Docker").toEqual([]);
  };
  const attach = async (what: string, cli: CliRun): Promise<void> => {
    await allure.attachment(`CLI ${what}: stdout`, cli.stdout, "text/plain");
    await allure.attachment(`CLI ${what}: stderr`, cli.stderr, "text/plain");
    await allure.attachment(`nightly report ${what}`, await readFile(file("nightly.json"), "utf8").catch(() => "(none)"), "application/json");
  };
  /** The CLI's arguments with --config pointing at the team's configuration (writeConfig). */
  const configured = (extra: string[]): string[] => ["--config", file("nightly.config.ts"), ...extra];
  /** A team's configuration: each server's row count at the end of the archive, and the built-in checks. */
  const writeConfig = async (): Promise<void> => {
    const config = {
      name: `nightly verification of the Debian-packaged Barman ${host.barman.version} host`,
      // Speed is the benchmark's business: two busy cores must not turn these steps red.
      objectives: { rtoBarmanRecoverS: 600, rtoInstanceStartS: 600, rtoVerificationS: 600, rtoTotalS: 1800 },
      nightly: {
        amcheck: true,
        pgDump: true,
        servers: Object.fromEntries(
          Object.values<DocsServer>(host.servers).map((s) => [
            s.serverName,
            { database: s.database, checks: [{ name: `${s.table} at the end of the archive`, sql: s.countSql, expected: [[s.rows.atEndOfArchive]] }] },
          ]),
        ),
      },
    };
    await mkdir(work, { recursive: true });
    await writeFile(file("nightly.config.ts"), `export default ${JSON.stringify(config, null, 2)};\n`);
  };
  return { file, verify, report, only, workDirectories, nothingLeft, attach, configured, writeConfig };
}
type NightlySession = ReturnType<typeof nightlySession<DocsBarmanVersion>>;

describe("Nightly verification of a Barman host set up from Debian packages and Barman's documentation (rsync + Debian layout, gzip tar)", () => {
  let host: DocsBarmanHost;
  let work: string;
  let session: NightlySession;

  beforeAll(async () => {
    // A few thousand rows: the table spans enough pages to damage one; speed is the benchmark's business.
    host = await startDocsBarmanHost(run, settings, say, { rows: 3000 });
    work = await mkdtemp(join(tmpdir(), "pgdrill-nightly-real-hosts-"));
    session = nightlySession(host, work);
    await session.writeConfig();
    say(`docs host up in ${(host.timingsMs.total / 1000).toFixed(1)} s`);
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    if (host && !settings.keepResources) await host.stop();
  });

  const steps = orderedScenario({ stepTimeoutMs: 10 * 60_000 });

  steps.step(
    "healthy: every server green with every archived WAL segment replayed (gzip and lz4 tar backups, gzip and zstd WAL); the rsync backup without a manifest is 'not verified' (never damaged) and checked by pg_checksums; the Debian configuration neutralised and listed",
    async () => {
      const cli = await session.verify(session.configured(["--all-servers"]));
      await session.attach("healthy", cli);
      expect(cli.code, cli.stdout + cli.stderr).toBe(0);
      const r = await session.report();
      expect(r.servers.map((s) => [s.server, s.verdict, s.mode, s.postgresMajor])).toEqual([
        ["pg15-rsync", "pass", "full WAL replay", 15],
        ["pg17-tar-gzip", "pass", "full WAL replay", 17],
        ["pg17-tar-lz4", "pass", "full WAL replay", 17],
      ]);
      const [pg15, pg17, pg17lz4] = r.servers as [NightlyResult, NightlyResult, NightlyResult];

      // rsync: no manifest, said in one sentence; the physical check ran instead.
      expect(pg15.storage).toEqual({ format: "plain", compression: null, manifest: false });
      expect([pg15.backupVerification.verdict, pg15.backupVerification.reason]).toEqual(["not verified", "no manifest"]);
      expect(pg15.backupVerification.sentence).toMatch(/has no backup_manifest .*barman generate-manifest pg15-rsync/);
      expect(pg15.checks.map((c) => [c.kind, c.ok])).toEqual([
        ["query", true],
        ["amcheck", true],
        ["pg_dump", true],
        ["pg_checksums", true],
      ]);
      // The Debian layout's settings that cannot hold in a throwaway copy, each changed and said.
      const changed = pg15.configurationChanges.map((c) => c.setting);
      for (const setting of ["data_directory", "hba_file", "include_dir", "external_pid_file"]) expect(changed, setting).toContain(setting);
      expect(cli.stdout).toMatch(/^Backup verification: NOT VERIFIED: backup \d{8}T\d{6} has no backup_manifest/m);

      // gzip tar: Barman cannot verify it; the restored copy was checked against its manifest.
      expect(pg17.storage).toEqual({ format: "tar", compression: "gzip", manifest: true });
      expect([pg17.backupVerification.verdict, pg17.backupVerification.by]).toEqual(["verified", "pg_verifybackup on the restored copy"]);
      expect(pg17.barmanCommands.find((c) => / restore /.test(c.command))?.command).toMatch(/--recovery-staging-path \/var\/tmp\/pgdrill-verify-\S+\/staging/);
      expect(pg17.checks.every((c) => c.ok)).toBe(true);

      // lz4 tar (tar --use-compress-program lz4 in the staging directory), its WAL zstd-compressed:
      // the configured check counts the rows written after the backup, so every segment was replayed.
      expect(pg17lz4.storage).toEqual({ format: "tar", compression: "lz4", manifest: true });
      expect([pg17lz4.backupVerification.verdict, pg17lz4.backupVerification.by]).toEqual(["verified", "pg_verifybackup on the restored copy"]);
      expect(pg17lz4.barmanCommands.find((c) => / restore /.test(c.command))?.command).toMatch(/--recovery-staging-path /);
      expect(pg17lz4.checks.map((c) => [c.kind, c.ok])).toEqual([
        ["query", true],
        ["amcheck", true],
        ["pg_dump", true],
      ]);
      for (const s of [pg15, pg17, pg17lz4]) expect(s.walContinuity?.missing, `${s.server} WAL continuity`).toEqual([]);
      await session.nothingLeft();
    },
  );

  steps.step(
    "flipped bytes in the manifest-less rsync backup: caught on the copy and named by file and block, the backup's files not called verified",
    async () => {
      const flipped = await host.flipBytesInBackup("pg15-rsync");
      const relation = flipped.file.split("/data/").at(-1)!;
      await allure.parameter("damaged", `${relation} block ${flipped.block}`);
      try {
        const cli = await session.verify(session.configured(["--server", "pg15-rsync"]));
        await session.attach("flipped bytes", cli);
        expect(cli.code).toBe(1);
        const pg15 = await session.only("pg15-rsync");
        expect(pg15.failedPhase).toBe("verification");
        expect(pg15.backupVerification.verdict).toBe("not verified");
        const pageCheck = pg15.checks.find((c) => c.kind === "pg_checksums");
        // pg_checksums names the file and the block; the reads of the damaged page fail on its checksum too.
        expect(pageCheck?.ok).toBe(false);
        expect(pageCheck?.error).toMatch(new RegExp(`checksum verification failed in file ".*${relation}", block ${flipped.block}`));
        expect(pg15.problems.join("\n")).toMatch(new RegExp(`invalid page in block ${flipped.block} of relation ${relation}`));
        await session.nothingLeft();
      } finally {
        // The same XOR again: the backup as it was, for the next steps.
        await host.flipBytesInBackup("pg15-rsync");
      }
    },
  );

  steps.step(
    "the rsync backup given a manifest (barman generate-manifest): verified by barman verify-backup; beside it, a configured database the backup does not hold is named with the databases it does",
    async () => {
      await host.generateManifest("pg15-rsync");
      // The same configuration, but pg17-tar-gzip's checks pointed at a database that server never had.
      const written = await readFile(session.file("nightly.config.ts"), "utf8");
      const wrong = JSON.parse(written.replace(/^export default /, "").replace(/;\s*$/, "")) as { nightly: { servers: Record<string, { database: string }> } };
      wrong.nightly.servers["pg17-tar-gzip"]!.database = "billing";
      await writeFile(session.file("wrong-database.config.ts"), `export default ${JSON.stringify(wrong, null, 2)};\n`);
      const cli = await session.verify(["--config", session.file("wrong-database.config.ts"), "--servers", "pg15-rsync,pg17-tar-gzip"]);
      await session.attach("generated manifest, wrong database", cli);
      expect(cli.code).toBe(1);
      const [pg15, pg17] = (await session.report()).servers as [NightlyResult, NightlyResult];
      expect([pg15.verdict, pg15.backupVerification.verdict, pg15.backupVerification.by]).toEqual(["pass", "verified", "barman verify-backup"]);
      expect(pg17.failedPhase).toBe("verification");
      expect(pg17.problems[0]).toMatch(
        /the configured database 'billing' is not in this backup; its databases: postgres, shop, template1 \(set nightly\.servers\.pg17-tar-gzip\.database, or --database\)/,
      );
      await session.nothingLeft();
    },
  );

  steps.step(
    "pg_verifybackup missing where Barman looks (no path_prefix), and no --config: not damage, said with where it is installed, the copies verified in the throwaway instances; only the built-in checks run",
    async () => {
      await host.removePathPrefix();
      try {
        const cli = await session.verify(["--servers", "pg15-rsync,pg17-tar-gzip"]);
        await session.attach("no path_prefix, no config", cli);
        expect(cli.code, cli.stdout + cli.stderr).toBe(0);
        expect(cli.stderr).toMatch(/no --config: only the built-in checks run/);
        expect(cli.stderr).toMatch(
          /\[pg15-rsync\] barman verify-backup: pg_verifybackup not found: Barman looks for it in path_prefix and the barman user's PATH; it is installed at \/usr\/lib\/postgresql\/17\/bin\/pg_verifybackup .*path_prefix = "\/usr\/lib\/postgresql\/17\/bin"/,
        );
        const r = await session.report();
        expect(r.servers.map((s) => [s.server, s.verdict, s.backupVerification.verdict, s.backupVerification.by])).toEqual([
          ["pg15-rsync", "pass", "verified", "pg_verifybackup on the restored copy"],
          ["pg17-tar-gzip", "pass", "verified", "pg_verifybackup on the restored copy"],
        ]);
        // The project's own drill checks (database shop's orders in pgdrill.config.ts) are not applied: the built-in ones only.
        expect(r.servers.map((s) => s.checks.map((c) => c.kind))).toEqual([
          ["amcheck", "pg_dump", "pg_checksums"],
          ["amcheck", "pg_dump"],
        ]);
        await session.nothingLeft();
      } finally {
        await host.setPathPrefix();
      }
    },
  );

  steps.step(
    "the work directory's disk full: the cause line first (No space left on device), the Action says to free room, nothing concluded about the backup",
    async () => {
      await host.fillWorkDisk();
      try {
        const cli = await session.verify(session.configured(["--server", "pg15-rsync", "--barman-work-dir", host.workDisk.path]));
        await session.attach("disk full", cli);
        expect(cli.code).toBe(1);
        const pg15 = await session.only("pg15-rsync");
        expect([pg15.failedPhase, pg15.cause]).toEqual(["barman recover", "disk full"]);
        const [first] = pg15.problems;
        expect(first?.split("\n")[0]).toMatch(/No space left on device/);
        expect(first?.split("\n").length, "at most ~20 lines").toBeLessThanOrEqual(21);
        expect(cli.stdout).toMatch(/^Action: a disk filled up \(No space left on device\)/m);
        // JUnit: an error (nothing concluded), not a failure of the backup.
        expect(await readFile(session.file("nightly-junit.xml"), "utf8")).toMatch(/<error message="barman recover failed/);
        await session.nothingLeft();
      } finally {
        await host.freeWorkDisk();
      }
    },
  );

  steps.step(
    "sshd killed mid-transfer: the run fails in transfer with ssh's words and cannot remove its copy; the next run removes it, naming the dead run",
    async () => {
      // Armed once the restore starts: the transfer's sender (tar of the restored copy on the Barman
      // host) is held as soon as it runs, then sshd dies under it, so the transfer cannot win the race.
      let killed: Promise<unknown> | undefined;
      const cli = await session.verify(session.configured(["--server", "pg17-tar-gzip"]), (line) => {
        if (!killed && /barman (recover|restore) pg17-tar-gzip /.test(line))
          killed = host.killSshdWhileSending("^tar -C \\S*/pgdrill-verify-\\S+ -cf - pgdata$");
      });
      await killed;
      await session.attach("sshd killed", cli);
      expect(killed, "the CLI reached the transfer").toBeDefined();
      expect(cli.code).toBe(1);
      const pg17 = await session.only("pg17-tar-gzip");
      expect(pg17.failedPhase).toBe("transfer");
      expect(pg17.cause).toBe("ssh");
      const left = await session.workDirectories();
      expect(left, "the copy the dead connection left").toHaveLength(1);
      expect(await leftoverThrowaways()).toEqual([]);

      await host.startSshd();
      const next = await session.verify(session.configured(["--server", "pg17-tar-gzip"]));
      await session.attach("next run", next);
      expect(next.code, next.stdout + next.stderr).toBe(0);
      const swept = (await session.only("pg17-tar-gzip")).swept;
      expect(swept.map((s) => s.directory)).toEqual(left);
      expect(swept[0]?.why).toMatch(/^run \S+ \(pid \d+ on .+, started .+\) is gone$/);
      expect(next.stdout).toContain(`Removed a dead run's copy: ${left[0]}`);
      await session.nothingLeft();
    },
  );

  steps.step("a WAL segment lost from the archive after the backup: caught in WAL verification naming the segment, before any restore", async () => {
    // The file gone from Barman's disk, its line still in the catalogue: the catalogue says the
    // archive reaches it, the wals directory does not hold it (a lost file, as a storage fault leaves it).
    const { lastArchivedSegment: segment } = host.servers["pg17-tar-gzip"];
    await host.barmanExec(`rm /var/lib/barman/pg17-tar-gzip/wals/${segment.slice(0, 16)}/${segment}`);
    await allure.parameter("deleted", segment);
    const cli = await session.verify(session.configured(["--server", "pg17-tar-gzip"]));
    await session.attach("WAL gap", cli);
    expect(cli.code).toBe(1);
    const pg17 = await session.only("pg17-tar-gzip");
    expect(pg17.failedPhase).toBe("WAL verification");
    expect(pg17.walContinuity?.missing).toEqual([segment]);
    expect(pg17.problems[0]).toMatch(new RegExp(`^WAL verification failed .*: WAL segment ${segment} missing from Barman's archive`));
    expect(
      pg17.barmanCommands.some((c) => / restore /.test(c.command)),
      "no restore ran",
    ).toBe(false);
    expect(cli.stdout).toMatch(/^Action: WAL the restore needs is missing from Barman's archive/m);
    await session.nothingLeft();
  });
});

/**
 * The same verification on the other Barman versions of the suite's table, each host set up the
 * same way: what differs is each version's own behaviour (restore or recover, the staging option,
 * what verify-backup can read, encryption from 3.14).
 */
describe("The same on Barman 3.20 (PostgreSQL 18, GPG-encrypted gzip tar backups) and Barman 3.4 (barman recover, gzip tar)", () => {
  /** One host at a time on two cores: 3.20's is stopped before 3.4's starts. */
  let host20: DocsBarmanHost<"3.20"> | undefined;
  let host34: DocsBarmanHost<"3.4">;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "pgdrill-nightly-real-hosts-versions-"));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    if (!settings.keepResources) await Promise.all([host20?.stop(), host34?.stop()]);
  });

  const steps = orderedScenario({ stepTimeoutMs: 10 * 60_000 });

  steps.step(
    "Barman 3.20: the encrypted backup is restored with --staging-path (decrypted) and 'not verified (encrypted)', the zstd tar one (lz4 WAL) verified by Barman itself, the rsync one 'not verified (no manifest)'; all green with full WAL replay",
    async () => {
      host20 = await startDocsBarmanHost(run, settings, say, { barman: "3.20", rows: 2000 });
      const session = nightlySession(host20, join(work, "3.20"));
      await session.writeConfig();
      const cli = await session.verify(session.configured(["--all-servers"]));
      await session.attach("Barman 3.20", cli);
      expect(cli.code, cli.stdout + cli.stderr).toBe(0);
      const r = await session.report();
      expect(r.servers.map((s) => [s.server, s.verdict, s.mode, s.postgresMajor, s.backupVerification.verdict, s.backupVerification.reason])).toEqual([
        ["pg15-rsync", "pass", "full WAL replay", 15, "not verified", "no manifest"],
        ["pg18-tar-gpg", "pass", "full WAL replay", 18, "not verified", "encrypted"],
        ["pg18-tar-zstd", "pass", "full WAL replay", 18, "verified", null],
      ]);
      const pg18 = r.servers[1]!;
      // zstd tar, unencrypted, WAL lz4-compressed: pg_verifybackup 18 reads tar backups, so Barman verifies it itself.
      const zstd = r.servers[2]!;
      expect(zstd.storage).toEqual({ format: "tar", compression: "zstd", manifest: true });
      expect(zstd.backupVerification.by).toBe("barman verify-backup");
      expect(zstd.barmanCommands.find((c) => / restore /.test(c.command))?.command).toMatch(/--staging-path /);
      expect(pg18.barmanCommands.find((c) => / restore /.test(c.command))?.command).toMatch(/--staging-path \/var\/tmp\/pgdrill-verify-\S+\/staging/);
      // PostgreSQL 18 clusters have data checksums by default: the copy is checked page by page.
      expect(pg18.checks.map((c) => [c.kind, c.ok])).toEqual([
        ["query", true],
        ["amcheck", true],
        ["pg_dump", true],
        ["pg_checksums", true],
      ]);
      await session.nothingLeft();
    },
  );

  steps.step(
    "Barman 3.20: a wrong GPG passphrase fails the restore with Barman's words first, classed as encryption, nothing left (also the decryption directory)",
    async () => {
      const host = host20!;
      const session = nightlySession(host, join(work, "3.20"));
      await host.setWrongPassphrase();
      try {
        const cli = await session.verify(session.configured(["--server", "pg18-tar-gpg"]));
        await session.attach("wrong passphrase", cli);
        expect(cli.code).toBe(1);
        const pg18 = await session.only("pg18-tar-gpg");
        expect([pg18.failedPhase, pg18.cause]).toEqual(["barman recover", "encryption"]);
        expect(pg18.problems[0]?.split("\n")[0]).toMatch(/Bad passphrase provided for decryption/);
        expect(cli.stdout).toMatch(/^Action: the backup is encrypted and could not be decrypted/m);
        await session.nothingLeft();
      } finally {
        await host.setRightPassphrase();
      }
    },
  );

  steps.step(
    "Barman 3.4: barman recover with --recovery-staging-path; the tar backup's copy (bzip2 WAL) verified against its manifest, the rsync one 'not verified (no manifest)'",
    async () => {
      await host20?.stop();
      host20 = undefined;
      host34 = await startDocsBarmanHost(run, settings, say, { barman: "3.4", rows: 2000 });
      const session = nightlySession(host34, join(work, "3.4"));
      await session.writeConfig();
      const cli = await session.verify(session.configured(["--all-servers"]));
      await session.attach("Barman 3.4", cli);
      expect(cli.code, cli.stdout + cli.stderr).toBe(0);
      const r = await session.report();
      expect(r.servers.map((s) => [s.server, s.verdict, s.backupVerification.verdict, s.backupVerification.reason ?? s.backupVerification.by])).toEqual([
        ["pg15-rsync", "pass", "not verified", "no manifest"],
        ["pg15-tar-gzip", "pass", "verified", "pg_verifybackup on the restored copy"],
      ]);
      const tar = r.servers[1]!;
      expect(tar.barmanCommands.find((c) => / recover /.test(c.command))?.command).toMatch(
        /^barman recover .*--recovery-staging-path \/var\/tmp\/pgdrill-verify-\S+\/staging/,
      );
      await session.nothingLeft();
    },
  );
});
