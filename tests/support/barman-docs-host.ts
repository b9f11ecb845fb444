// "A Barman host as Barman's documentation and Debian's packages set it up", not as the drill's own
// topology does: the fixture a nightly verification is tested against when it must cope with what
// DBAs really run. Three containers on a network of their own, all labelled with the run's labels:
//
// - pg15: a Debian PostgreSQL 15 cluster made with pg_createcluster (data checksums on), its
//   configuration under /etc/postgresql/15/main (Barman's settings in conf.d/barman.conf), started
//   with pg_ctlcluster; PID 1 is tini, not postgres; sshd runs for Barman's rsync. WAL goes to Barman
//   with archive_command = barman-wal-archive over SSH (postgres -> barman@barman-host), and Barman
//   copies PGDATA with rsync over SSH (barman -> postgres@pg15): keys exchanged both ways.
// - pg17: a Debian PostgreSQL 17 cluster (pg_createcluster's defaults: no data checksums), backed up
//   with backup_method = postgres, WAL streamed on a replication slot, gzip-compressed tar backups.
// - barman-host: Barman 3.13.3 from Debian trixie, /etc/barman.conf exactly as Debian ships it (the
//   image's path_prefix line removed: `dpkg --verify barman` is clean), one file per server in
//   /etc/barman.d with path_prefix = "/usr/lib/postgresql/17/bin" as Barman's docs recommend on
//   Debian (pg_verifybackup has no /usr/bin wrapper), sshd published on the engine's address.
//
// The code under test reaches it over SSH only (`ssh`); `barmanExec` and the fault helpers are the
// test's own docker exec (set-up and fault injection). Commands the fixture runs on the hosts get
// Debian's login PATH, not the image's: what an SSH session there would see.
//
// No cron daemon runs on the Barman host (Debian's /etc/cron.d/barman is installed, but the image
// has no cron): the fixture runs `barman cron` itself during the set-up (it starts receive-wal for
// pg17, which keeps running); WAL that arrives later waits in the incoming/streaming directories
// until something runs `barman cron` or `barman archive-wal`.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import type { SshTarget } from "../../containers/barman/ssh-transport.ts";
import { docker, runLabels } from "../../containers/docker-resources.ts";
import { type ExecResult, execIn } from "../../containers/exec.ts";
import { ensureImages } from "../../containers/images.ts";
import { bindPortsToEngineAddress } from "../../containers/postgres/postgres-containers.ts";
import { parseBackupId } from "../../src/barman-output.ts";
import type { DrillSettings } from "../../src/config.ts";
import type { DrillRun } from "../../src/engine/topology.ts";
import { monotonicNow, seconds } from "../../src/metrics.ts";
import { pollUntil } from "../../src/wait.ts";

const sh = promisify(execFile);

export type DocsServerName = "pg15-rsync" | "pg17-tar-gzip";

export interface DocsServer {
  serverName: DocsServerName;
  /** PostgreSQL major version of the cluster, and so of its backups. */
  major: 15 | 17;
  /** The cluster's host name on the fixture's network (pg15, pg17). */
  host: string;
  database: string;
  table: string;
  /** Counts the table's rows; on a recovered copy it gives one of `rows`. */
  countSql: string;
  /** The one DONE backup taken for the fixture. */
  backupId: string;
  /** Rows as the primary counted them: at the backup, and at the end of the WAL archived after it (what a replay of the whole archive must give). */
  rows: { atBackup: number; atEndOfArchive: number };
  /** The segment holding the rows written after the backup, in Barman's archive. */
  lastArchivedSegment: string;
  /** pg_createcluster ... -- --data-checksums (pg15) or Debian's default, none (pg17). */
  dataChecksums: boolean;
  /** PGDATA in /var/lib/postgresql/<major>/main, configuration in /etc/postgresql/<major>/main. */
  layout: "debian";
  method: "rsync" | "postgres";
  /** The backup's compression (backup_compression): null for rsync, "gzip" (tar format) for pg17. */
  compression: string | null;
  /** Barman's WAL compression (`compression`): gzip for pg15-rsync, none for the streamed pg17 WAL. */
  walCompression: string | null;
}

export interface DocsBarmanHost {
  /** barman@127.0.0.1, the published port, a key made for the test and the host key pinned in a temporary directory. */
  ssh: SshTarget;
  /** A second key pair in the same directory that the host does not know (id_other). */
  keysDirectory: string;
  servers: Record<DocsServerName, DocsServer>;
  /** The containers, by role (names as Docker has them: for Docker's event log, and messages). */
  containers: { barman: { id: string; name: string }; pg15: { id: string; name: string }; pg17: { id: string; name: string } };
  /** A small tmpfs on the Barman host (owned by barman), a restore work directory that can be made full. */
  workDisk: { path: string; sizeBytes: number };
  /** The test's own docker exec into the Barman host (set-up and fault injection only): bash -c `script`, stdout trimmed; throws with the command's words on failure. */
  barmanExec(script: string, user?: "barman" | "root"): Promise<string>;
  /** SQL on a server's primary as postgres (psql -qAt, in the server's database unless `database`): stdout trimmed. */
  sql(server: DocsServerName, sql: string, database?: string): Promise<string>;
  /** `barman generate-manifest` for the rsync backup (a backup_manifest that pg_verifybackup can check). */
  generateManifest(server?: "pg15-rsync"): Promise<void>;
  /** Takes path_prefix out of both server sections: Barman then looks for pg_verifybackup on the SSH session's PATH, and does not find it. */
  removePathPrefix(): Promise<void>;
  /** Puts path_prefix = "/usr/lib/postgresql/17/bin" back into both server sections (the default). */
  setPathPrefix(): Promise<void>;
  /**
   * Removes one archived segment after the backup (a WAL gap): the file and its line in Barman's WAL
   * catalogue. By default the first segment after the backup's end_wal. Returns the segment's name.
   */
  deleteArchivedWal(server: DocsServerName, segment?: string): Promise<string>;
  /**
   * Flips 8 bytes inside the tuple area of the table's block 1 in the rsync backup's data directory
   * (size unchanged, a hard-linked file copied first so that no other backup changes). Only data
   * checksums (or a backup_manifest generated before the damage) can tell. The flip is an XOR:
   * calling it again puts the original bytes back. The table was frozen before the backup, so no
   * full-page image in the WAL after it repairs the block during a replay.
   */
  flipBytesInBackup(server?: "pg15-rsync"): Promise<{ file: string; block: number; offset: number }>;
  /** Fills the work disk up to its last MiB (one filler file); returns the bytes left. */
  fillWorkDisk(): Promise<{ freeBytes: number }>;
  /** Removes the filler file. */
  freeWorkDisk(): Promise<void>;
  /** SIGKILL to the Barman host's sshd: the listener and every session's sshd process (the commands they ran are left to die of their broken pipes). */
  killSshd(): Promise<void>;
  /** Starts sshd again (same host keys: the pinned known_hosts stays valid). */
  startSshd(): Promise<void>;
  /** How long each part of the start took. */
  timingsMs: { images: number; containers: number; configuration: number; walShipping: number; data: number; total: number };
  /** Removes the containers, the network, their volumes and the key directory. */
  stop(): Promise<void>;
}

export interface DocsBarmanHostOptions {
  /** Rows of each server's table at its backup; default 20000. 100 more are written after the backup. */
  rows?: number;
}

const DEFAULT_ROWS = 20_000;
const ROWS_AFTER_BACKUP = 100;
const DATABASE = "shop";
const TABLE = "orders";
/** Barman's docs on Debian: the PostgreSQL client tools of Barman's own suite (trixie: 17). */
const PATH_PREFIX = "/usr/lib/postgresql/17/bin";
const WORK_DISK = "/srv/pgdrill-work";
const WORK_DISK_BYTES = 512 * 1024 * 1024;
const FILLER = `${WORK_DISK}/fill-disk.bin`;
/** The PATH Debian gives a login session (/etc/login.defs, sshd): what Barman sees over SSH. */
const DEBIAN_PATH = {
  barman: "/usr/local/bin:/usr/bin:/bin:/usr/games",
  postgres: "/usr/local/bin:/usr/bin:/bin:/usr/games",
  root: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
};
const SSHD = "/usr/sbin/sshd -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o PermitRootLogin=no";
/** How often a long load or backup says it is still going. */
const PROGRESS_INTERVAL_MS = 15_000;

const secret = (): string => randomBytes(18).toString("base64url");

/** The server sections, as a DBA writes them after Barman's templates (ssh-server, streaming-server). path_prefix last: removePathPrefix/setPathPrefix edit that one line. */
const SECTIONS: Record<DocsServerName, string> = {
  "pg15-rsync": [
    "[pg15-rsync]",
    'description = "PostgreSQL 15 on pg15 (Debian cluster 15/main): rsync over SSH, WAL by archive_command"',
    "ssh_command = ssh postgres@pg15",
    "conninfo = host=pg15 user=barman dbname=postgres",
    "backup_method = rsync",
    "backup_options = concurrent_backup",
    "reuse_backup = link",
    "archiver = on",
    "compression = gzip",
    // A backup after a bulk load would otherwise wait for a spread checkpoint (27 s measured here).
    "immediate_checkpoint = true",
    `path_prefix = "${PATH_PREFIX}"`,
    "",
  ].join("\n"),
  "pg17-tar-gzip": [
    "[pg17-tar-gzip]",
    'description = "PostgreSQL 17 on pg17 (Debian cluster 17/main): pg_basebackup, gzip tar, WAL streaming"',
    "conninfo = host=pg17 user=barman dbname=postgres",
    "streaming_conninfo = host=pg17 user=streaming_barman",
    "backup_method = postgres",
    "streaming_archiver = on",
    "slot_name = barman",
    "create_slot = auto",
    "backup_compression = gzip",
    "backup_compression_format = tar",
    "immediate_checkpoint = true",
    `path_prefix = "${PATH_PREFIX}"`,
    "",
  ].join("\n"),
};

/** The cluster side of each server: what a DBA puts in conf.d/barman.conf. */
const CLUSTERS: Record<DocsServerName, { major: 15 | 17; host: string; checksums: boolean; conf: string }> = {
  "pg15-rsync": {
    major: 15,
    host: "pg15",
    checksums: true,
    conf: [
      "# Barman: WAL archived with barman-wal-archive over SSH to the Barman host",
      "listen_addresses = '*'",
      "wal_level = replica",
      "archive_mode = on",
      "archive_command = 'barman-wal-archive -U barman barman-host pg15-rsync %p'",
      "",
    ].join("\n"),
  },
  "pg17-tar-gzip": {
    major: 17,
    host: "pg17",
    checksums: false,
    conf: [
      "# Barman: pg_basebackup and pg_receivewal on a replication slot",
      "listen_addresses = '*'",
      "wal_level = replica",
      "max_wal_senders = 10",
      "max_replication_slots = 10",
      "",
    ].join("\n"),
  },
};

/** Least privilege, Barman's "Preliminary steps" for PostgreSQL 15 and later (pg_checkpoint for switch-wal --force). */
const ROLES_SQL = (barman: string, streaming: string): string[] => [
  `CREATE ROLE barman LOGIN PASSWORD '${barman}'`,
  "GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO barman",
  "GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) TO barman",
  "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO barman",
  "GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO barman",
  "GRANT pg_read_all_settings TO barman",
  "GRANT pg_read_all_stats TO barman",
  "GRANT pg_checkpoint TO barman",
  `CREATE ROLE streaming_barman LOGIN REPLICATION PASSWORD '${streaming}'`,
  `CREATE DATABASE ${DATABASE}`,
];

/**
 * Runs `work`, and every PROGRESS_INTERVAL_MS until it ends says how long it has run and, when
 * `probe` answers, how far it got.
 */
async function withProgress<T>(say: (line: string) => void, what: string, work: () => Promise<T>, probe?: () => Promise<string>): Promise<T> {
  const started = monotonicNow();
  let probing = false;
  const timer = setInterval(() => {
    if (probing) return;
    probing = true;
    const elapsed = `${((monotonicNow() - started) / 1000).toFixed(0)} s`;
    void (probe ? probe().then((state) => `, ${state}`) : Promise.resolve(""))
      .catch(() => "")
      .then((state) => say(`${what}: still running after ${elapsed}${state}`))
      .finally(() => {
        probing = false;
      });
  }, PROGRESS_INTERVAL_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** A container whose exposed ports are published on the engine's address only (127.0.0.1 locally), as the drill's. */
class PublishedContainer extends GenericContainer {
  protected override async beforeContainerCreated(): Promise<void> {
    await bindPortsToEngineAddress(this.hostConfig);
  }
}

/** One line of `barman check`: server, check, OK or not, Barman's hint. */
interface CheckResult {
  server: string;
  check: string;
  ok: boolean;
  line: string;
}

/** `barman check all`'s text output, line by line ("Server X:" then "\tcheck: OK|FAILED (hint)"). */
export function parseBarmanCheckText(output: string): CheckResult[] {
  const results: CheckResult[] = [];
  let server = "";
  for (const line of output.split("\n")) {
    const header = /^Server (\S+):$/.exec(line);
    if (header) {
      server = header[1]!;
      continue;
    }
    const check = /^\s+(.+?): (OK|FAILED)\b/.exec(line);
    if (check) results.push({ server, check: check[1]!, ok: check[2] === "OK", line: `${server}: ${line.trim()}` });
  }
  return results;
}

const SEGMENT = /^[0-9A-F]{24}$/;

export async function startDocsBarmanHost(
  run: DrillRun,
  settings: DrillSettings,
  progress: (line: string) => void,
  options: DocsBarmanHostOptions = {},
): Promise<DocsBarmanHost> {
  const rows = options.rows ?? DEFAULT_ROWS;
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`rows must be a whole number >= 1, got ${rows}`);
  const started = monotonicNow();
  const since = (t: number): number => monotonicNow() - t;
  const say = (line: string): void => progress(`docs host: ${line}`);

  // The barman image is the same for both platforms (3.13); built (if missing) by the first call.
  const pg15Images = (await ensureImages({ platform: { postgres: "15", barman: "3.13" }, baseOverride: settings.baseImage, progress })).images;
  const pg17Images = (await ensureImages({ platform: { postgres: "17", barman: "3.13" }, baseOverride: settings.baseImage, progress })).images;
  const imagesMs = since(started);

  const labels = runLabels(run.runId, run.ownerPid);
  const prefix = `pgdrill-${run.runId}-docs`;
  const network = `${prefix}-net`;
  const startedContainers: StartedTestContainer[] = [];
  let keys: string | undefined;
  let networkCreated = false;
  const stop = async (): Promise<void> => {
    await Promise.all(startedContainers.map((c) => c.stop({ remove: true, removeVolumes: true, timeout: 0 }).catch(() => undefined)));
    if (networkCreated)
      await docker()
        .getNetwork(network)
        .remove()
        .catch(() => undefined);
    if (keys) await rm(keys, { recursive: true, force: true });
  };

  try {
    const containersStarted = monotonicNow();
    say(`creating network ${network}; starting barman-host (${pg15Images.barman}), pg15 (${pg15Images.postgres}), pg17 (${pg17Images.postgres})`);
    await docker().createNetwork({ Name: network, Driver: "bridge", Labels: labels, CheckDuplicate: true });
    networkCreated = true;
    const postgresHost = (image: string, host: string): GenericContainer =>
      new GenericContainer(image)
        .withName(`${prefix}-${host}`)
        .withHostname(host)
        .withNetworkMode(network)
        .withNetworkAliases(host)
        .withLabels(labels)
        // A host, not a postgres container: tini as PID 1, PostgreSQL started by pg_ctlcluster later.
        .withEntrypoint(["tini", "--"])
        .withCommand(["sleep", "infinity"])
        .withStartupTimeout(settings.budgetsMs.containerStart);
    const starting = await Promise.allSettled([
      new PublishedContainer(pg15Images.barman)
        .withName(`${prefix}-barman`)
        .withHostname("barman-host")
        .withNetworkMode(network)
        .withNetworkAliases("barman-host")
        .withLabels(labels)
        .withExposedPorts(22)
        .withTmpFs({ [WORK_DISK]: `rw,size=${WORK_DISK_BYTES},mode=0755` })
        .withWaitStrategy(Wait.forLogMessage(/barman server ready/))
        .withStartupTimeout(settings.budgetsMs.containerStart)
        .start(),
      postgresHost(pg15Images.postgres, "pg15").start(),
      postgresHost(pg17Images.postgres, "pg17").start(),
    ]);
    for (const s of starting) if (s.status === "fulfilled") startedContainers.push(s.value);
    const failed = starting.flatMap((s, i) => (s.status === "rejected" ? [`${["barman-host", "pg15", "pg17"][i]}: ${(s.reason as Error).message}`] : []));
    if (failed.length > 0) throw new Error(`the docs host's containers did not start:\n${failed.join("\n")}`);
    const [barmanC, pg15C, pg17C] = startedContainers as [StartedTestContainer, StartedTestContainer, StartedTestContainer];
    const containersMs = since(containersStarted);

    const where = { barman: "the docs Barman host", pg15: "the docs pg15 host", pg17: "the docs pg17 host" } as const;
    const exec = async (
      container: StartedTestContainer,
      role: keyof typeof where,
      script: string,
      user: "barman" | "postgres" | "root",
      options: { onLine?: (line: string) => void; args?: string[] } = {},
    ): Promise<ExecResult> =>
      // `args` become $1, $2... of the script: text passed as it is, never parsed by a shell.
      execIn(container.getId(), ["bash", "-c", script, "docs-host", ...(options.args ?? [])], {
        user,
        where: where[role],
        env: { PATH: DEBIAN_PATH[user] },
        onLine: options.onLine,
      });
    const barmanExec = async (script: string, user: "barman" | "root" = "barman"): Promise<string> =>
      (await exec(barmanC, "barman", script, user)).stdout.trim();
    const clusterOf = (server: DocsServerName): { container: StartedTestContainer; role: "pg15" | "pg17" } =>
      server === "pg15-rsync" ? { container: pg15C, role: "pg15" } : { container: pg17C, role: "pg17" };
    const sql = async (server: DocsServerName, text: string, database: string = DATABASE): Promise<string> => {
      const { container, role } = clusterOf(server);
      const result = await execIn(container.getId(), ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-qAt", "-d", database, "-c", text], {
        user: "postgres",
        where: where[role],
        env: { PATH: DEBIAN_PATH.postgres },
      });
      return result.stdout.trim();
    };

    // --- configuration: the clusters and Barman, as a DBA does it on Debian --------------------------
    const configurationStarted = monotonicNow();
    const passwords = { barman: secret(), streaming: secret() };
    const prepareCluster = async (server: DocsServerName): Promise<void> => {
      const { major, checksums, conf } = CLUSTERS[server];
      const { container, role } = clusterOf(server);
      const etc = `/etc/postgresql/${major}/main`;
      say(`${role}: pg_createcluster ${major} main${checksums ? " -- --data-checksums" : ""}`);
      await exec(
        container,
        role,
        [
          "set -euo pipefail",
          `pg_createcluster ${major} main --start-conf=manual${checksums ? " -- --data-checksums" : ""} >/dev/null`,
          `printf '%s' "$1" > ${etc}/conf.d/barman.conf`,
          `chown postgres:postgres ${etc}/conf.d/barman.conf`,
          `printf '%s\\n' '# Barman (Barman host on the same network)' 'host    all             barman           samenet   scram-sha-256' 'host    replication     streaming_barman samenet   scram-sha-256' >> ${etc}/pg_hba.conf`,
          // sshd for Barman's rsync (pg15); host keys made here, as the package's postinst does.
          server === "pg15-rsync" ? `ssh-keygen -A >/dev/null && install -d -m 0755 /run/sshd && ${SSHD}` : "true",
        ].join("\n"),
        "root",
        { args: [conf] },
      );
    };
    const configureBarman = async (): Promise<void> => {
      const pgpass = [
        `pg15:5432:*:barman:${passwords.barman}`,
        `pg17:5432:*:barman:${passwords.barman}`,
        `pg17:5432:*:streaming_barman:${passwords.streaming}`,
        "",
      ].join("\n");
      await exec(
        barmanC,
        "barman",
        [
          "set -euo pipefail",
          // Debian's own /etc/barman.conf: the image appends a path_prefix line to it.
          "sed -i '/^path_prefix = /d' /etc/barman.conf",
          "dpkg --verify barman",
          `printf '%s' "$1" > /etc/barman.d/pg15-rsync.conf`,
          `printf '%s' "$2" > /etc/barman.d/pg17-tar-gzip.conf`,
          "chown barman:barman /etc/barman.d/pg15-rsync.conf /etc/barman.d/pg17-tar-gzip.conf",
          `printf '%s' "$3" > /var/lib/barman/.pgpass`,
          "chown barman:barman /var/lib/barman/.pgpass && chmod 0600 /var/lib/barman/.pgpass",
          `chown barman:barman ${WORK_DISK}`,
        ].join("\n"),
        "root",
        { args: [SECTIONS["pg15-rsync"], SECTIONS["pg17-tar-gzip"], pgpass] },
      );
    };
    await Promise.all([prepareCluster("pg15-rsync"), prepareCluster("pg17-tar-gzip"), configureBarman()]);

    // SSH both ways, as Barman's docs describe: barman -> postgres@pg15 (rsync), postgres@pg15 ->
    // barman@barman-host (barman-wal-archive). Host keys accepted on first use (ssh-keyscan), then pinned.
    say("exchanging SSH keys: barman -> postgres@pg15 (rsync), postgres@pg15 -> barman@barman-host (barman-wal-archive)");
    const makeKey = (comment: string, peer: string): string =>
      [
        "set -euo pipefail",
        "install -d -m 0700 ~/.ssh",
        `ssh-keygen -q -t ed25519 -N '' -C ${comment} -f ~/.ssh/id_ed25519`,
        `ssh-keyscan -t ed25519 ${peer} 2>/dev/null >> ~/.ssh/known_hosts`,
        "cat ~/.ssh/id_ed25519.pub",
      ].join("\n");
    const authorize = "install -d -m 0700 ~/.ssh && printf '%s\\n' \"$1\" >> ~/.ssh/authorized_keys && chmod 0600 ~/.ssh/authorized_keys";
    const [barmanKey, postgresKey] = await Promise.all([
      exec(barmanC, "barman", makeKey("barman@barman-host", "pg15"), "barman").then((r) => r.stdout.trim()),
      exec(pg15C, "pg15", makeKey("postgres@pg15", "barman-host"), "postgres").then((r) => r.stdout.trim()),
    ]);
    for (const key of [barmanKey, postgresKey])
      if (!/^ssh-ed25519 [A-Za-z0-9+/=]+ \S+$/.test(key)) throw new Error(`not an ed25519 public key: ${key.slice(0, 60)}`);
    await Promise.all([
      exec(pg15C, "pg15", authorize, "postgres", { args: [barmanKey] }),
      exec(barmanC, "barman", authorize, "barman", { args: [postgresKey] }),
    ]);
    await exec(barmanC, "barman", "ssh -o BatchMode=yes postgres@pg15 true", "barman");
    await exec(pg15C, "pg15", "barman-wal-archive --test -U barman barman-host pg15-rsync DUMMY", "postgres");

    say("pg_ctlcluster 15 main start; pg_ctlcluster 17 main start; roles barman and streaming_barman, database shop");
    await Promise.all(
      (["pg15-rsync", "pg17-tar-gzip"] as const).map(async (server) => {
        const { container, role } = clusterOf(server);
        await exec(container, role, `pg_ctlcluster ${CLUSTERS[server].major} main start`, "root");
        for (const statement of ROLES_SQL(passwords.barman, passwords.streaming)) await sql(server, statement, "postgres");
      }),
    );
    const configurationMs = since(configurationStarted);

    // --- WAL shipping: barman cron, barman check, switch-wal ---------------------------------------
    const walShippingStarted = monotonicNow();
    const barman = (args: string, onLine?: (line: string) => void): Promise<ExecResult> => exec(barmanC, "barman", `barman ${args}`, "barman", { onLine });
    /** One commit on the server's primary: the WAL an idle primary does not write (see switchWalOn in src/engine/topology.ts). */
    const commit = (server: DocsServerName): Promise<unknown> => sql(server, "SELECT txid_current()").catch(() => undefined);
    const check = async (): Promise<CheckResult[]> => {
      const result = await execIn(barmanC.getId(), ["barman", "check", "all"], {
        user: "barman",
        where: where.barman,
        env: { PATH: DEBIAN_PATH.barman },
        allowFailure: true,
      });
      return parseBarmanCheckText(result.stdout);
    };
    const waitForCheck = (what: string, allowFailing: (c: CheckResult) => boolean): Promise<CheckResult[]> =>
      pollUntil({
        what: `barman check on the docs host: ${what}`,
        budget: "walStreamingReady",
        budgetMs: settings.budgetsMs.walStreamingReady,
        probe: check,
        done: (results) => results.length > 0 && results.every((c) => c.ok || allowFailing(c)),
        describe: (results) =>
          results
            .filter((c) => !c.ok)
            .map((c) => c.line)
            .join("; "),
        intervalMs: 250,
      });
    await barman("cron");
    // "WAL archive: FAILED (please make sure WAL shipping is setup)" until a first segment arrives.
    await waitForCheck("every check OK but the first WAL", (c) => c.check === "WAL archive");
    const archiveTimeoutS = Math.max(1, Math.floor(settings.budgetsMs.walArchived / 1000));
    /** `barman switch-wal [--force] --archive`, one commit once Barman waits; returns the closed segment. */
    const switchWal = async (server: DocsServerName, force: boolean): Promise<string> => {
      let committed: Promise<unknown> | undefined;
      const result = await barman(`switch-wal ${force ? "--force " : ""}--archive --archive-timeout ${archiveTimeoutS} ${server}`, (line) => {
        if (!committed && /Waiting for the WAL file/.test(line)) committed = commit(server);
      });
      await committed;
      const closed = /The WAL file ([0-9A-F]{24}) has been closed/.exec(result.stdout)?.[1];
      if (!closed) throw new Error(`barman switch-wal ${server} closed no WAL file: ${result.stdout.trim()}`);
      return closed;
    };
    say("barman switch-wal --force --archive for both servers");
    await Promise.all([switchWal("pg15-rsync", true), switchWal("pg17-tar-gzip", true)]);
    await waitForCheck("every check OK", () => false);
    const walShippingMs = since(walShippingStarted);

    // --- data and backups ----------------------------------------------------------------------------
    const dataStarted = monotonicNow();
    const countSql = `SELECT count(*)::int AS rows FROM ${TABLE}`;
    const count = async (server: DocsServerName): Promise<number> => Number(await sql(server, countSql));
    const prepareData = async (server: DocsServerName): Promise<Pick<DocsServer, "backupId" | "rows" | "lastArchivedSegment">> => {
      const who = server;
      await sql(
        server,
        `CREATE TABLE ${TABLE} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer text NOT NULL, amount numeric(10,2) NOT NULL, ordered_at timestamptz NOT NULL DEFAULT now())`,
      );
      const loadStarted = monotonicNow();
      await withProgress(say, `${who}: loading ${rows} ${TABLE} rows`, () =>
        sql(server, `INSERT INTO ${TABLE} (customer, amount) SELECT 'customer-' || (g % 97), g * 1.25 FROM generate_series(1, ${rows}) AS g`),
      );
      // After a bulk load, as a DBA would: every page frozen and all-visible before the backup. It
      // also keeps the backup's pages out of the WAL after it (no hint-bit or freeze full-page
      // images), so that damage to a backed-up page is not repaired by the replay.
      await sql(server, `VACUUM (FREEZE, ANALYZE) ${TABLE}`);
      const atBackup = await count(server);
      say(`${who}: ${atBackup} ${TABLE} rows loaded in ${seconds(monotonicNow() - loadStarted)}; barman backup --wait`);
      const backupStarted = monotonicNow();
      let nudged: Promise<unknown> | undefined;
      const waitS = Math.max(1, Math.floor(settings.budgetsMs.backup / 1000));
      const result = await withProgress(
        say,
        `${who}: barman backup`,
        () =>
          barman(`backup --wait --wait-timeout ${waitS} ${server}`, (line) => {
            // Barman 3.13 may wait for the segment after a backup that ends on a segment boundary,
            // which an idle primary never fills (src/engine/phases.ts backUp).
            if (!nudged && /Waiting for the WAL file/.test(line))
              nudged = sql(server, "SELECT txid_current()")
                .then(() => sql(server, "SELECT pg_switch_wal()"))
                .then(() => commit(server))
                .catch(() => undefined);
          }),
        async () => `${await barmanExec(`du -sh /var/lib/barman/${server}/base | cut -f1`)} in base/`,
      );
      await nudged;
      const backupId = parseBackupId(result.stdout + result.stderr);
      const status = await barmanExec(
        `barman -f json show-backup ${server} ${backupId} | python3 -c 'import json,sys; print(json.load(sys.stdin)["${server}"]["status"])'`,
      );
      if (status !== "DONE") throw new Error(`${server}: backup ${backupId} is ${status}, not DONE:\n${result.stdout}${result.stderr}`);
      say(`${who}: backup ${backupId} DONE in ${seconds(monotonicNow() - backupStarted)}`);
      await sql(server, `INSERT INTO ${TABLE} (customer, amount) SELECT 'after-backup-' || g, g FROM generate_series(1, ${ROWS_AFTER_BACKUP}) AS g`);
      const atEndOfArchive = await count(server);
      const lastArchivedSegment = await switchWal(server, false);
      say(`${who}: ${atEndOfArchive} ${TABLE} rows archived through ${lastArchivedSegment}`);
      return { backupId, rows: { atBackup, atEndOfArchive }, lastArchivedSegment };
    };
    const [pg15Data, pg17Data] = await Promise.all([prepareData("pg15-rsync"), prepareData("pg17-tar-gzip")]);
    const dataMs = since(dataStarted);

    // --- the test's SSH access -----------------------------------------------------------------------
    keys = await mkdtemp(join(tmpdir(), "pgdrill-docs-"));
    for (const name of ["id_test", "id_other"]) await sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `pgdrill-${name}`, "-f", join(keys, name)]);
    await exec(barmanC, "barman", authorize, "barman", { args: [(await readFile(join(keys, "id_test.pub"), "utf8")).trim()] });
    const hostKey = (await barmanExec("cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub", "root")).trim();
    const sshHost = barmanC.getHost();
    const sshPort = barmanC.getMappedPort(22);
    await writeFile(join(keys, "known_hosts"), `[${sshHost}]:${sshPort} ${hostKey}\n`);
    const ssh: SshTarget = { destination: `barman@${sshHost}`, port: sshPort, identityFile: join(keys, "id_test"), knownHostsFile: join(keys, "known_hosts") };

    const servers: Record<DocsServerName, DocsServer> = {
      "pg15-rsync": {
        serverName: "pg15-rsync",
        major: 15,
        host: "pg15",
        database: DATABASE,
        table: TABLE,
        countSql,
        ...pg15Data,
        dataChecksums: CLUSTERS["pg15-rsync"].checksums,
        layout: "debian",
        method: "rsync",
        compression: null,
        walCompression: "gzip",
      },
      "pg17-tar-gzip": {
        serverName: "pg17-tar-gzip",
        major: 17,
        host: "pg17",
        database: DATABASE,
        table: TABLE,
        countSql,
        ...pg17Data,
        dataChecksums: CLUSTERS["pg17-tar-gzip"].checksums,
        layout: "debian",
        method: "postgres",
        compression: "gzip",
        walCompression: null,
      },
    };
    const timingsMs = {
      images: imagesMs,
      containers: containersMs,
      configuration: configurationMs,
      walShipping: walShippingMs,
      data: dataMs,
      total: since(started),
    };
    say(
      `ready in ${seconds(timingsMs.total)} (images ${seconds(imagesMs)}, containers ${seconds(containersMs)}, configuration ${seconds(configurationMs)}, WAL shipping ${seconds(walShippingMs)}, data and backups ${seconds(dataMs)}); ssh ${ssh.destination} -p ${ssh.port}`,
    );

    const name = (c: StartedTestContainer): { id: string; name: string } => ({ id: c.getId(), name: c.getName().replace(/^\//, "") });
    const serverFiles = "/etc/barman.d/pg15-rsync.conf /etc/barman.d/pg17-tar-gzip.conf";
    return {
      ssh,
      keysDirectory: keys,
      servers,
      containers: { barman: name(barmanC), pg15: name(pg15C), pg17: name(pg17C) },
      workDisk: { path: WORK_DISK, sizeBytes: WORK_DISK_BYTES },
      barmanExec,
      sql,
      async generateManifest(server = "pg15-rsync") {
        await barman(`generate-manifest ${server} ${servers[server].backupId}`);
      },
      async removePathPrefix() {
        await barmanExec(`sed -i '/^path_prefix = /d' ${serverFiles}`);
      },
      async setPathPrefix() {
        await barmanExec(
          `sed -i '/^path_prefix = /d' ${serverFiles} && for f in ${serverFiles}; do printf '%s\\n' 'path_prefix = "${PATH_PREFIX}"' >> "$f"; done`,
        );
      },
      async deleteArchivedWal(server, segment) {
        if (segment !== undefined && !SEGMENT.test(segment)) throw new Error(`not a WAL segment name: '${segment}'`);
        const { backupId } = servers[server];
        const endWal = await barmanExec(
          `barman -f json show-backup ${server} ${backupId} | python3 -c 'import json,sys; print(json.load(sys.stdin)["${server}"]["base_backup_information"]["end_wal"])'`,
        );
        const xlogDb = `/var/lib/barman/${server}/wals/${server}-xlog.db`;
        const archived = (await barmanExec(`cut -f1 ${xlogDb}`)).split("\n").filter((s) => SEGMENT.test(s));
        const chosen = segment ?? archived.filter((s) => s > endWal).sort()[0];
        if (!chosen) throw new Error(`${server}: no archived segment after the backup's end (${endWal}); archived: ${archived.join(", ")}`);
        if (!archived.includes(chosen)) throw new Error(`${server}: segment ${chosen} is not in Barman's archive (${archived.join(", ")})`);
        await barmanExec(`set -e; rm /var/lib/barman/${server}/wals/${chosen.slice(0, 16)}/${chosen}; sed -i '/^${chosen}\\t/d' ${xlogDb}`);
        say(`${server}: archived WAL segment ${chosen} deleted (the backup ends in ${endWal})`);
        return chosen;
      },
      async flipBytesInBackup(server = "pg15-rsync") {
        const relation = await sql(server, `SELECT pg_relation_filepath('${TABLE}')`);
        if (!/^base\/\d+\/\d+$/.test(relation)) throw new Error(`unexpected relation path '${relation}'`);
        const file = `/var/lib/barman/${server}/base/${servers[server].backupId}/data/${relation}`;
        const block = 1;
        // The end of the block holds its first tuples: damage there is data, not the page header.
        const offset = block * 8192 + 8000;
        const flip = `import sys\nwith open(sys.argv[1], "r+b") as f:\n    f.seek(int(sys.argv[2])); d = f.read(8); f.seek(int(sys.argv[2])); f.write(bytes(b ^ 0xFF for b in d))\n`;
        await barmanExec(
          [
            "set -euo pipefail",
            `size=$(stat -c %s ${file}); [ "$size" -ge ${3 * 8192} ] || { echo "${file} has $size bytes: too small to damage block ${block}" >&2; exit 1; }`,
            // reuse_backup = link: the file may be a hard link shared with another backup.
            `cp -p ${file} ${file}.flip && python3 -c '${flip}' ${file}.flip ${offset} && mv ${file}.flip ${file}`,
            `[ "$(stat -c %s ${file})" = "$size" ]`,
          ].join("\n"),
        );
        say(`${server}: 8 bytes flipped at offset ${offset} (block ${block}) of ${file}`);
        return { file, block, offset };
      },
      async fillWorkDisk() {
        const free = Number(await barmanExec(`df --output=avail -B1 ${WORK_DISK} | tail -n 1`));
        const leave = 1024 * 1024;
        await barmanExec(`fallocate -l ${Math.max(0, free - leave)} ${FILLER}`);
        const freeBytes = Number(await barmanExec(`df --output=avail -B1 ${WORK_DISK} | tail -n 1`));
        say(`work disk ${WORK_DISK} filled: ${freeBytes} bytes left`);
        return { freeBytes };
      },
      async freeWorkDisk() {
        await barmanExec(`rm -f ${FILLER}`);
      },
      async killSshd() {
        // The listener (its pid file) and its descendants that are sshd processes (sshd-session in OpenSSH 10).
        await barmanExec(
          [
            "set -euo pipefail",
            "listener=$(cat /run/sshd.pid)",
            'tree() { for c in $(ps -o pid= --ppid "$1"); do echo "$c"; tree "$c"; done; }',
            'victims="$listener"; for p in $(tree "$listener"); do case "$(cat /proc/$p/comm 2>/dev/null)" in sshd*) victims="$victims $p";; esac; done',
            "kill -KILL $victims",
          ].join("\n"),
          "root",
        );
        await pollUntil({
          what: "the docs Barman host's sshd gone",
          budget: "serviceReady",
          budgetMs: settings.budgetsMs.serviceReady,
          // Zombies (killed, not yet reaped by PID 1) hold no socket: only live sshd processes count.
          probe: () => barmanExec("ps -eo stat=,pid=,comm= | awk '$1 !~ /^Z/ && $3 ~ /^sshd/ {print $3 \" \" $2}'", "root"),
          done: (left) => left === "",
          describe: (left) => `still running: ${left.replaceAll("\n", ", ")}`,
        });
        say("sshd killed on the Barman host");
      },
      async startSshd() {
        await barmanExec(`install -d -m 0755 /run/sshd && ${SSHD}`, "root");
        say("sshd started again on the Barman host");
      },
      timingsMs,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
