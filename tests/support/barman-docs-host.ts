// "A Barman host as Barman's documentation and Debian's packages set it up", not as the drill's own
// topology does: the fixture a nightly verification is tested against when it must cope with what
// DBAs really run. One Barman host and one host per PostgreSQL server, on a network of their own,
// all labelled with the run's labels. The Barman version is chosen per call (`barman`), each with
// the servers a team on that Debian release would run:
//
// - "3.13" (default): Barman 3.13.3 from Debian trixie, client tools of PostgreSQL 17.
//   - pg15-rsync on pg15: a Debian PostgreSQL 15 cluster made with pg_createcluster (data checksums
//     on), its configuration under /etc/postgresql/15/main (Barman's settings in conf.d/barman.conf),
//     started with pg_ctlcluster; PID 1 is tini, not postgres; sshd runs for Barman's rsync. WAL goes
//     to Barman with archive_command = barman-wal-archive over SSH (postgres -> barman@barman-host),
//     and Barman copies PGDATA with rsync over SSH (barman -> postgres@pg15): keys exchanged both ways.
//   - pg17-tar-gzip on pg17: a Debian PostgreSQL 17 cluster (pg_createcluster's defaults: no data
//     checksums), backed up with backup_method = postgres, WAL streamed on a replication slot,
//     gzip-compressed tar backups.
//   - pg17-tar-lz4 on pg17-lz4: the same, lz4-compressed tar backups, WAL compressed with zstd.
// - "3.20": Barman 3.20.1 from Debian forky, client tools of PostgreSQL 18.
//   - pg18-tar-gpg on pg18: a Debian PostgreSQL 18 cluster (initdb 18's default: data checksums on),
//     postgres method, gzip tar, GPG-encrypted as Barman's documentation describes: a key made for
//     the test with a passphrase in the barman user's GnuPG home, `encryption = gpg`,
//     `encryption_key_id = <fingerprint>`, `encryption_passphrase_command = cat <file>`. gpg-agent
//     caches no passphrase (default-cache-ttl 0, max-cache-ttl 0): a wrong passphrase fails at once.
//     Barman encrypts the archived WAL of that server too.
//   - pg18-tar-zstd on pg18-zstd: unencrypted, zstd-compressed tar backups (pg_verifybackup 18 reads
//     tar backups: Barman verifies this one itself), WAL compressed with lz4.
//   - pg15-rsync on pg15, as on 3.13 (the seed's PostgreSQL 15 with the newest Barman).
// - "3.4": Barman 3.4.0 from Debian bookworm, client tools of PostgreSQL 15 (`barman recover`, not
//   restore; the WAL catalogue is wals/xlog.db).
//   - pg15-rsync on pg15, as on 3.13.
//   - pg15-tar-gzip on pg15-tar: a second Debian PostgreSQL 15 cluster (no data checksums: Debian's
//     default), postgres method, gzip tar, WAL streaming, WAL compressed with bzip2.
//
// The Barman host: /etc/barman.conf exactly as Debian ships it (the image's path_prefix line
// removed: `dpkg --verify barman` is clean), one file per server in /etc/barman.d with path_prefix
// = "/usr/lib/postgresql/<client major>/bin" as Barman's docs recommend on Debian (pg_verifybackup
// has no /usr/bin wrapper), sshd published on the engine's address.
//
// The code under test reaches it over SSH only (`ssh`); `barmanExec` and the fault helpers are the
// test's own docker exec (set-up and fault injection). Commands the fixture runs on the hosts get
// Debian's login PATH, not the image's: what an SSH session there would see.
//
// No cron daemon runs on the Barman host (Debian's /etc/cron.d/barman is installed, but the image
// has no cron): the fixture runs `barman cron` itself during the set-up (it starts receive-wal for
// the streaming servers, which keeps running); WAL that arrives later waits in the incoming/streaming
// directories until something runs `barman cron` or `barman archive-wal`.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import { barmanRoleStatements } from "../../containers/barman/barman-roles.ts";
import type { SshTarget } from "../../containers/barman/ssh-transport.ts";
import { docker, runLabels } from "../../containers/docker-resources.ts";
import { type ExecResult, execIn } from "../../containers/exec.ts";
import { type DrillImages, ensureImages } from "../../containers/images.ts";
import { BARMAN_VERSIONS } from "../../containers/platforms.ts";
import { bindPortsToEngineAddress } from "../../containers/postgres/postgres-containers.ts";
import type { ServerFacts } from "../../fixtures/server-facts.ts";
import { parseBackupId } from "../../src/barman/barman-output.ts";
import type { DrillSettings } from "../../src/drill/config.ts";
import { budgetOf } from "../../src/drill/config.ts";
import type { DrillRun } from "../../src/engine/topology.ts";
import { monotonicNow, seconds } from "../../src/support/measure.ts";
import { pollUntil, withProgress } from "../../src/support/wait.ts";

const sh = promisify(execFile);

/** The Barman versions the fixture sets up: Debian bookworm's, trixie's (the default) and forky's. */
export type DocsBarmanVersion = "3.13" | "3.20" | "3.4";

/** Each version's servers and the hosts they run on. Every version has pg15-rsync on pg15. */
interface VersionLayout {
  "3.13": { servers: "pg15-rsync" | "pg17-tar-gzip" | "pg17-tar-lz4"; hosts: "pg15" | "pg17" | "pg17-lz4" };
  "3.20": { servers: "pg15-rsync" | "pg18-tar-gpg" | "pg18-tar-zstd"; hosts: "pg15" | "pg18" | "pg18-zstd" };
  "3.4": { servers: "pg15-rsync" | "pg15-tar-gzip"; hosts: "pg15" | "pg15-tar" };
}
/** The servers of one version's host (Barman's server names, /etc/barman.d/<name>.conf). */
export type DocsServerNameOf<V extends DocsBarmanVersion> = VersionLayout[V]["servers"];
/** A server of any version's host. */
export type DocsServerName = DocsServerNameOf<DocsBarmanVersion>;
/** The PostgreSQL hosts of one version's fixture (host names on its network, keys of `containers`). */
export type DocsHostNameOf<V extends DocsBarmanVersion> = VersionLayout[V]["hosts"];
type DocsHostName = DocsHostNameOf<DocsBarmanVersion>;

export interface DocsServer extends ServerFacts {
  serverName: DocsServerName;
  /** PostgreSQL major version of the cluster, and so of its backups. */
  major: 15 | 17 | 18;
  /** The cluster's host name on the fixture's network (pg15, pg17, pg17-lz4, pg18, pg18-zstd, pg15-tar). */
  host: string;
  /** The cluster's data_checksums: pg_createcluster ... -- --data-checksums (pg15-rsync), else initdb's default (off up to PostgreSQL 17, on from 18). */
  dataChecksums: boolean;
  /** PGDATA in /var/lib/postgresql/<major>/main, configuration in /etc/postgresql/<major>/main. */
  layout: "debian";
  method: "rsync" | "postgres";
  /** The backup's compression (backup_compression, tar format): null for rsync. */
  compression: BackupCompression | null;
  /** Barman's WAL compression (`compression`), streamed WAL included: null when there is none. */
  walCompression: WalCompression | null;
  /** Barman's backup encryption (`encryption`): "gpg" for pg18-tar-gpg (its archived WAL too), else null. */
  encryption: "gpg" | null;
}

/** The Barman side of the chosen version: what a command against it must say. */
export interface DocsBarmanInfo<V extends DocsBarmanVersion> {
  version: V;
  /** path_prefix of every server section: the client tools of Barman's own suite. */
  pathPrefix: string;
  /** `barman restore` from 3.12, `barman recover` before. */
  restoreCommand: "restore" | "recover";
  /** Where a compressed or encrypted backup is unpacked: --recovery-staging-path up to 3.14, --staging-path from 3.15. */
  stagingOption: "--recovery-staging-path" | "--staging-path";
  /** Barman's WAL catalogue of a server: wals/xlog.db up to 3.4, wals/<server>-xlog.db later. */
  xlogDb(server: DocsServerNameOf<V>): string;
}

export interface DocsBarmanHostBase<V extends DocsBarmanVersion> {
  barman: DocsBarmanInfo<V>;
  /** barman@127.0.0.1, the published port, a key made for the test and the host key pinned in a temporary directory. */
  ssh: SshTarget;
  /** A second key pair in the same directory that the host does not know (id_other). */
  keysDirectory: string;
  servers: Record<DocsServerNameOf<V>, DocsServer>;
  /** The containers, by role: the Barman host and each PostgreSQL host (names as Docker has them: for Docker's event log, and messages). */
  containers: Record<"barman" | DocsHostNameOf<V>, { id: string; name: string }>;
  /** A small tmpfs on the Barman host (owned by barman), a restore work directory that can be made full. */
  workDisk: { path: string; sizeBytes: number };
  /** The test's own docker exec into the Barman host (set-up and fault injection only): bash -c `script`, stdout trimmed; throws with the command's words on failure. */
  barmanExec(script: string, user?: "barman" | "root"): Promise<string>;
  /** SQL on a server's primary as postgres (psql -qAt, in the server's database unless `database`): stdout trimmed. */
  sql(server: DocsServerNameOf<V>, sql: string, database?: string): Promise<string>;
  /** `barman generate-manifest` for the rsync backup (a backup_manifest that pg_verifybackup can check). */
  generateManifest(server?: "pg15-rsync"): Promise<void>;
  /** Takes path_prefix out of every server section: Barman then looks for pg_verifybackup on the SSH session's PATH, and does not find it. */
  removePathPrefix(): Promise<void>;
  /** Puts path_prefix (`barman.pathPrefix`, e.g. "/usr/lib/postgresql/17/bin" on 3.13) back into every server section (the default). */
  setPathPrefix(): Promise<void>;
  /**
   * Removes one archived segment after the backup (a WAL gap): the file and its line in Barman's WAL
   * catalogue. By default the first segment after the backup's end_wal. Returns the segment's name.
   */
  deleteArchivedWal(server: DocsServerNameOf<V>, segment?: string): Promise<string>;
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
  /**
   * sshd killed while a command is sending: waits for the barman user's process whose command line
   * matches `sender` (pgrep -f), holds it (SIGSTOP) so it cannot finish first, kills sshd as
   * killSshd does, then kills the held sender. Deterministic where a kill on a progress line races
   * a transfer that may finish before the kill lands.
   */
  killSshdWhileSending(sender: string): Promise<{ senderPid: number }>;
  /** Starts sshd again (same host keys: the pinned known_hosts stays valid). */
  startSshd(): Promise<void>;
  /** How long each part of the start took. */
  timingsMs: { images: number; containers: number; configuration: number; walShipping: number; data: number; total: number };
  /** Removes the containers, the network, their volumes and the key directory. */
  stop(): Promise<void>;
}

/** The GPG side of the 3.20 host (pg18-tar-gpg). */
export interface DocsGpg {
  gpg: {
    /** encryption_key_id: the fingerprint of the key made for the test. */
    fingerprint: string;
    /** The barman user's GnuPG home (gpg-agent.conf: default-cache-ttl 0, max-cache-ttl 0). */
    home: string;
    /** The file `encryption_passphrase_command` (cat <file>) prints. */
    passphraseFile: string;
    /** encryption_passphrase_command as written in the server section. */
    passphraseCommand: string;
  };
  /** The passphrase command now prints a wrong passphrase: a restore of the encrypted backup (and of its WAL) fails with gpg's "Bad passphrase". */
  setWrongPassphrase(): Promise<void>;
  /** The passphrase command prints the key's passphrase again (the default). */
  setRightPassphrase(): Promise<void>;
}

/** The docs host of Barman `V`: the 3.13 one by default; 3.20's has the GPG fault helpers. */
export type DocsBarmanHost<V extends DocsBarmanVersion = "3.13"> = DocsBarmanHostBase<V> & (V extends "3.20" ? DocsGpg : unknown);

export interface DocsBarmanHostOptions<V extends DocsBarmanVersion = "3.13"> {
  /** The Barman version and so the servers (see the top of this file); default "3.13". */
  barman?: V;
  /** Rows of each server's table at its backup; default 20000 (2000 already span the pages flipBytesInBackup needs). 100 more are written after the backup. */
  rows?: number;
}

const DEFAULT_ROWS = 20_000;
const ROWS_AFTER_BACKUP = 100;
const DATABASE = "shop";
const TABLE = "orders";
const WORK_DISK = "/srv/pgdrill-work";
const WORK_DISK_BYTES = 512 * 1024 * 1024;
const FILLER = `${WORK_DISK}/fill-disk.bin`;
/** The barman user's home (Debian's barman package). */
const BARMAN_HOME = "/var/lib/barman";
const GPG_HOME = `${BARMAN_HOME}/.gnupg`;
const GPG_PASSPHRASE_FILE = `${BARMAN_HOME}/.gpg-passphrase`;
const GPG_PASSPHRASE_COMMAND = `cat ${GPG_PASSPHRASE_FILE}`;
/** The PATH Debian gives a login session (/etc/login.defs, sshd): what Barman sees over SSH. */
const DEBIAN_PATH = {
  barman: "/usr/local/bin:/usr/bin:/bin:/usr/games",
  postgres: "/usr/local/bin:/usr/bin:/bin:/usr/games",
  root: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
};
const SSHD = "/usr/sbin/sshd -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o PermitRootLogin=no";

const secret = (): string => randomBytes(18).toString("base64url");

/** backup_compression of a postgres-method server (tar format): what pg_basebackup compresses with. */
export type BackupCompression = "gzip" | "lz4" | "zstd";
/** Barman's `compression` of archived WAL: gzip and bzip2 by command, lz4 and zstd in Python (3.10+). */
export type WalCompression = "gzip" | "bzip2" | "lz4" | "zstd";

/** One server: its cluster and how Barman backs it up. The same name means the same set-up on every version. */
interface ServerSpec {
  major: 15 | 17 | 18;
  host: DocsHostName;
  method: "rsync" | "postgres";
  /** pg_createcluster ... -- --data-checksums; otherwise initdb's default. */
  checksumsFlag: boolean;
  /** backup_compression (postgres method only). */
  backupCompression: BackupCompression | null;
  walCompression: WalCompression | null;
  encryption: "gpg" | null;
}

// Every compression Barman offers is on some version's host: backup_compression gzip, lz4 and zstd
// (each restored through the version's staging option), WAL gzip, bzip2, lz4 and zstd.
const SERVER_SPECS: Record<DocsServerName, ServerSpec> = {
  "pg15-rsync": { major: 15, host: "pg15", method: "rsync", checksumsFlag: true, backupCompression: null, walCompression: "gzip", encryption: null },
  "pg17-tar-gzip": { major: 17, host: "pg17", method: "postgres", checksumsFlag: false, backupCompression: "gzip", walCompression: null, encryption: null },
  "pg17-tar-lz4": { major: 17, host: "pg17-lz4", method: "postgres", checksumsFlag: false, backupCompression: "lz4", walCompression: "zstd", encryption: null },
  "pg18-tar-gpg": { major: 18, host: "pg18", method: "postgres", checksumsFlag: false, backupCompression: "gzip", walCompression: null, encryption: "gpg" },
  "pg18-tar-zstd": {
    major: 18,
    host: "pg18-zstd",
    method: "postgres",
    checksumsFlag: false,
    backupCompression: "zstd",
    walCompression: "lz4",
    encryption: null,
  },
  "pg15-tar-gzip": {
    major: 15,
    host: "pg15-tar",
    method: "postgres",
    checksumsFlag: false,
    backupCompression: "gzip",
    walCompression: "bzip2",
    encryption: null,
  },
};

/** Each version's servers, in the order they are reported. */
const VERSION_SERVERS: { [V in DocsBarmanVersion]: readonly DocsServerNameOf<V>[] } = {
  "3.13": ["pg15-rsync", "pg17-tar-gzip", "pg17-tar-lz4"],
  "3.20": ["pg18-tar-gpg", "pg18-tar-zstd", "pg15-rsync"],
  "3.4": ["pg15-rsync", "pg15-tar-gzip"],
};

/** What differs between the versions' Barman: commands, options and catalogue names (release notes of 3.12 and 3.15). */
function barmanInfo<V extends DocsBarmanVersion>(version: V): DocsBarmanInfo<V> {
  const [major, minor] = version.split(".").map(Number) as [number, number];
  const atLeast = (m: number, n: number): boolean => major > m || (major === m && minor >= n);
  return {
    version,
    pathPrefix: `/usr/lib/postgresql/${BARMAN_VERSIONS[version].clientMajor}/bin`,
    restoreCommand: atLeast(3, 12) ? "restore" : "recover",
    stagingOption: atLeast(3, 15) ? "--staging-path" : "--recovery-staging-path",
    xlogDb: (server) => `${BARMAN_HOME}/${server}/wals/${atLeast(3, 12) ? `${server}-xlog.db` : "xlog.db"}`,
  };
}

/** A server section, as a DBA writes it after Barman's templates (ssh-server, streaming-server). path_prefix last: removePathPrefix/setPathPrefix edit that one line. */
function serverSection(server: DocsServerName, pathPrefix: string, gpgFingerprint?: string): string {
  const { major, host, method, encryption, backupCompression, walCompression } = SERVER_SPECS[server];
  const walCompressionLine = walCompression ? [`compression = ${walCompression}`] : [];
  if (method === "rsync")
    return [
      `[${server}]`,
      `description = "PostgreSQL ${major} on ${host} (Debian cluster ${major}/main): rsync over SSH, WAL by archive_command"`,
      `ssh_command = ssh postgres@${host}`,
      `conninfo = host=${host} user=barman dbname=postgres`,
      "backup_method = rsync",
      "backup_options = concurrent_backup",
      "reuse_backup = link",
      "archiver = on",
      ...walCompressionLine,
      // A backup after a bulk load would otherwise wait for a spread checkpoint (27 s measured here).
      "immediate_checkpoint = true",
      `path_prefix = "${pathPrefix}"`,
      "",
    ].join("\n");
  if (encryption === "gpg" && !gpgFingerprint) throw new Error(`${server}: GPG encryption needs the key's fingerprint`);
  return [
    `[${server}]`,
    `description = "PostgreSQL ${major} on ${host} (Debian cluster ${major}/main): pg_basebackup, ${backupCompression} tar${encryption === "gpg" ? ", GPG-encrypted" : ""}, WAL streaming${walCompression ? ` (${walCompression})` : ""}"`,
    `conninfo = host=${host} user=barman dbname=postgres`,
    `streaming_conninfo = host=${host} user=streaming_barman`,
    "backup_method = postgres",
    "streaming_archiver = on",
    "slot_name = barman",
    "create_slot = auto",
    `backup_compression = ${backupCompression}`,
    "backup_compression_format = tar",
    "immediate_checkpoint = true",
    ...walCompressionLine,
    // Barman's documentation (3.14+): the key's id, and a command that prints the passphrase for a restore.
    ...(encryption === "gpg" ? ["encryption = gpg", `encryption_key_id = ${gpgFingerprint}`, `encryption_passphrase_command = ${GPG_PASSPHRASE_COMMAND}`] : []),
    `path_prefix = "${pathPrefix}"`,
    "",
  ].join("\n");
}

/** The cluster side of a server: what a DBA puts in conf.d/barman.conf. */
function clusterConf(server: DocsServerName): string {
  return SERVER_SPECS[server].method === "rsync"
    ? [
        "# Barman: WAL archived with barman-wal-archive over SSH to the Barman host",
        "listen_addresses = '*'",
        "wal_level = replica",
        "archive_mode = on",
        `archive_command = 'barman-wal-archive -U barman barman-host ${server} %p'`,
        "",
      ].join("\n")
    : [
        "# Barman: pg_basebackup and pg_receivewal on a replication slot",
        "listen_addresses = '*'",
        "wal_level = replica",
        "max_wal_senders = 10",
        "max_replication_slots = 10",
        "",
      ].join("\n");
}

/** Barman's roles (its documentation's preliminary steps) and the drill's database, on each cluster. */
const ROLES_SQL = (passwords: { barman: string; streaming: string }): string[] => [...barmanRoleStatements(passwords), `CREATE DATABASE ${DATABASE}`];

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

export async function startDocsBarmanHost<V extends DocsBarmanVersion = "3.13">(
  run: DrillRun,
  settings: DrillSettings,
  progress: (line: string) => void,
  options: DocsBarmanHostOptions<V> = {},
): Promise<DocsBarmanHost<V>> {
  const version = (options.barman ?? "3.13") as V;
  if (!(version in VERSION_SERVERS)) throw new Error(`Barman ${version} has no docs host; there are ${Object.keys(VERSION_SERVERS).join(", ")}`);
  const rows = options.rows ?? DEFAULT_ROWS;
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`rows must be a whole number >= 1, got ${rows}`);
  const started = monotonicNow();
  const since = (t: number): number => monotonicNow() - t;
  const say = (line: string): void => progress(`docs host${version === "3.13" ? "" : ` (Barman ${version})`}: ${line}`);
  const barmanSide = barmanInfo(version);
  const { pathPrefix } = barmanSide;
  // Internally any server name; the caller sees its version's.
  const serverNames = VERSION_SERVERS[version] as readonly DocsServerName[];
  const hostNames = [...new Set(serverNames.map((s) => SERVER_SPECS[s].host))];
  const rsyncServer = "pg15-rsync";
  const rsyncHost = SERVER_SPECS[rsyncServer].host;
  const encrypted = serverNames.filter((s) => SERVER_SPECS[s].encryption === "gpg");

  // One Barman image per version, one PostgreSQL image per major; built (if missing) by the first call that needs it.
  const imagesByMajor = new Map<number, DrillImages>();
  for (const major of [...new Set(serverNames.map((s) => SERVER_SPECS[s].major))])
    imagesByMajor.set(
      major,
      (await ensureImages({ platform: { postgres: String(major) as "15" | "17" | "18", barman: version }, baseOverride: settings.baseImage, progress })).images,
    );
  const barmanImage = [...imagesByMajor.values()][0]!.barman;
  const postgresImageOf = (host: DocsHostName): string =>
    imagesByMajor.get(SERVER_SPECS[serverNames.find((s) => SERVER_SPECS[s].host === host)!].major)!.postgres;
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
    say(`creating network ${network}; starting barman-host (${barmanImage}), ${hostNames.map((h) => `${h} (${postgresImageOf(h)})`).join(", ")}`);
    await docker().createNetwork({ Name: network, Driver: "bridge", Labels: labels, CheckDuplicate: true });
    networkCreated = true;
    const postgresHost = (host: DocsHostName): GenericContainer =>
      new GenericContainer(postgresImageOf(host))
        .withName(`${prefix}-${host}`)
        .withHostname(host)
        .withNetworkMode(network)
        .withNetworkAliases(host)
        .withLabels(labels)
        // A host, not a postgres container: tini as PID 1, PostgreSQL started by pg_ctlcluster later.
        .withEntrypoint(["tini", "--"])
        .withCommand(["sleep", "infinity"])
        .withStartupTimeout(settings.budgetsMs.containerStart);
    const roles = ["barman", ...hostNames] as const;
    const starting = await Promise.allSettled([
      new PublishedContainer(barmanImage)
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
      ...hostNames.map((host) => postgresHost(host).start()),
    ]);
    for (const s of starting) if (s.status === "fulfilled") startedContainers.push(s.value);
    const failed = starting.flatMap((s, i) =>
      s.status === "rejected" ? [`${roles[i] === "barman" ? "barman-host" : roles[i]}: ${(s.reason as Error).message}`] : [],
    );
    if (failed.length > 0) throw new Error(`the docs host's containers did not start:\n${failed.join("\n")}`);
    const byRole = new Map(roles.map((role, i) => [role as string, startedContainers[i]!]));
    const barmanC = byRole.get("barman")!;
    const containersMs = since(containersStarted);

    type Role = "barman" | DocsHostName;
    const where = (role: Role): string => (role === "barman" ? "the docs Barman host" : `the docs ${role} host`);
    const exec = async (
      container: StartedTestContainer,
      role: Role,
      script: string,
      user: "barman" | "postgres" | "root",
      options: { onLine?: (line: string) => void; args?: string[] } = {},
    ): Promise<ExecResult> =>
      // `args` become $1, $2... of the script: text passed as it is, never parsed by a shell.
      execIn(container.getId(), ["bash", "-c", script, "docs-host", ...(options.args ?? [])], {
        user,
        where: where(role),
        env: { PATH: DEBIAN_PATH[user] },
        onLine: options.onLine,
      });
    const barmanExec = async (script: string, user: "barman" | "root" = "barman"): Promise<string> =>
      (await exec(barmanC, "barman", script, user)).stdout.trim();
    const clusterOf = (server: DocsServerName): { container: StartedTestContainer; role: DocsHostName } => {
      const role = SERVER_SPECS[server].host;
      const container = byRole.get(role);
      if (!container) throw new Error(`server ${server} is not on the Barman ${version} docs host (it has ${serverNames.join(", ")})`);
      return { container, role };
    };
    const sql = async (server: DocsServerName, text: string, database: string = DATABASE): Promise<string> => {
      const { container, role } = clusterOf(server);
      const result = await execIn(container.getId(), ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-qAt", "-d", database, "-c", text], {
        user: "postgres",
        where: where(role),
        env: { PATH: DEBIAN_PATH.postgres },
      });
      return result.stdout.trim();
    };
    /** The listener (its pid file) and its descendants that are sshd processes (sshd-session in OpenSSH 10), SIGKILLed; returns once none is alive. */
    const killSshdProcesses = async (): Promise<void> => {
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
        budget: budgetOf(settings, "serviceReady"),
        // Zombies (killed, not yet reaped by PID 1) hold no socket: only live sshd processes count.
        probe: () => barmanExec("ps -eo stat=,pid=,comm= | awk '$1 !~ /^Z/ && $3 ~ /^sshd/ {print $3 \" \" $2}'", "root"),
        done: (left) => left === "",
        describe: (left) => `still running: ${left.replaceAll("\n", ", ")}`,
      });
      say("sshd killed on the Barman host");
    };

    // --- configuration: the clusters and Barman, as a DBA does it on Debian --------------------------
    const configurationStarted = monotonicNow();
    const passwords = { barman: secret(), streaming: secret(), gpg: secret(), wrongGpg: `wrong-${secret()}` };
    const prepareCluster = async (server: DocsServerName): Promise<void> => {
      const { major, checksumsFlag, method } = SERVER_SPECS[server];
      const { container, role } = clusterOf(server);
      const etc = `/etc/postgresql/${major}/main`;
      say(`${role}: pg_createcluster ${major} main${checksumsFlag ? " -- --data-checksums" : ""}`);
      await exec(
        container,
        role,
        [
          "set -euo pipefail",
          `pg_createcluster ${major} main --start-conf=manual${checksumsFlag ? " -- --data-checksums" : ""} >/dev/null`,
          `printf '%s' "$1" > ${etc}/conf.d/barman.conf`,
          `chown postgres:postgres ${etc}/conf.d/barman.conf`,
          `printf '%s\\n' '# Barman (Barman host on the same network)' 'host    all             barman           samenet   scram-sha-256' 'host    replication     streaming_barman samenet   scram-sha-256' >> ${etc}/pg_hba.conf`,
          // sshd for Barman's rsync; host keys made here, as the package's postinst does.
          method === "rsync" ? `ssh-keygen -A >/dev/null && install -d -m 0755 /run/sshd && ${SSHD}` : "true",
        ].join("\n"),
        "root",
        { args: [clusterConf(server)] },
      );
    };
    /**
     * Barman's documentation for encryption = gpg: a key in the barman user's keyring, its passphrase
     * where encryption_passphrase_command finds it. gpg-agent caches nothing (ttl 0): every decryption
     * asks the command, so a wrong passphrase is never hidden by one cached earlier (the key's
     * creation included). Returns the key's fingerprint.
     */
    const prepareGpg = async (): Promise<string> => {
      say(`gpg --quick-gen-key as barman (${GPG_HOME}, gpg-agent without a passphrase cache)`);
      const result = await exec(
        barmanC,
        "barman",
        [
          "set -euo pipefail",
          "umask 077",
          `install -d -m 0700 ${GPG_HOME}`,
          `printf '%s\\n' 'default-cache-ttl 0' 'max-cache-ttl 0' > ${GPG_HOME}/gpg-agent.conf`,
          `printf '%s' "$1" > ${GPG_PASSPHRASE_FILE}`,
          `gpg --batch --quiet --pinentry-mode loopback --passphrase-file ${GPG_PASSPHRASE_FILE} --quick-gen-key 'Barman backups <barman@barman-host>' default default never 2>/dev/null`,
          "gpg --batch --with-colons --list-secret-keys 'barman@barman-host' | awk -F: '$1 == \"fpr\" { print $10; exit }'",
        ].join("\n"),
        "barman",
        { args: [passwords.gpg] },
      );
      const fingerprint = result.stdout.trim();
      if (!/^[0-9A-F]{40}$/.test(fingerprint)) throw new Error(`gpg gave no key fingerprint: '${fingerprint}' ${result.stderr}`);
      return fingerprint;
    };
    const configureBarman = async (gpgFingerprint: string | undefined): Promise<void> => {
      const pgpass = [
        ...serverNames.map((s) => `${SERVER_SPECS[s].host}:5432:*:barman:${passwords.barman}`),
        ...serverNames
          .filter((s) => SERVER_SPECS[s].method === "postgres")
          .map((s) => `${SERVER_SPECS[s].host}:5432:*:streaming_barman:${passwords.streaming}`),
        "",
      ].join("\n");
      const files = serverNames.map((s) => `/etc/barman.d/${s}.conf`);
      await exec(
        barmanC,
        "barman",
        [
          "set -euo pipefail",
          // Debian's own /etc/barman.conf: the image appends a path_prefix line to it.
          "sed -i '/^path_prefix = /d' /etc/barman.conf",
          "dpkg --verify barman",
          `printf '%s' "$1" > ${BARMAN_HOME}/.pgpass`,
          `chown barman:barman ${BARMAN_HOME}/.pgpass && chmod 0600 ${BARMAN_HOME}/.pgpass`,
          ...files.map((file, i) => `printf '%s' "$${i + 2}" > ${file}`),
          `chown barman:barman ${files.join(" ")}`,
          `chown barman:barman ${WORK_DISK}`,
        ].join("\n"),
        "root",
        { args: [pgpass, ...serverNames.map((s) => serverSection(s, pathPrefix, gpgFingerprint))] },
      );
    };
    let gpgFingerprint: string | undefined;
    await Promise.all([
      (async () => {
        if (encrypted.length > 0) gpgFingerprint = await prepareGpg();
        await configureBarman(gpgFingerprint);
      })(),
      ...serverNames.map((s) => prepareCluster(s)),
    ]);

    // SSH both ways, as Barman's docs describe: barman -> postgres@pg15 (rsync), postgres@pg15 ->
    // barman@barman-host (barman-wal-archive). Host keys accepted on first use (ssh-keyscan), then pinned.
    const rsyncC = clusterOf(rsyncServer).container;
    say(`exchanging SSH keys: barman -> postgres@${rsyncHost} (rsync), postgres@${rsyncHost} -> barman@barman-host (barman-wal-archive)`);
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
      exec(barmanC, "barman", makeKey("barman@barman-host", rsyncHost), "barman").then((r) => r.stdout.trim()),
      exec(rsyncC, rsyncHost, makeKey(`postgres@${rsyncHost}`, "barman-host"), "postgres").then((r) => r.stdout.trim()),
    ]);
    for (const key of [barmanKey, postgresKey])
      if (!/^ssh-ed25519 [A-Za-z0-9+/=]+ \S+$/.test(key)) throw new Error(`not an ed25519 public key: ${key.slice(0, 60)}`);
    await Promise.all([
      exec(rsyncC, rsyncHost, authorize, "postgres", { args: [barmanKey] }),
      exec(barmanC, "barman", authorize, "barman", { args: [postgresKey] }),
    ]);
    await exec(barmanC, "barman", `ssh -o BatchMode=yes postgres@${rsyncHost} true`, "barman");
    await exec(rsyncC, rsyncHost, `barman-wal-archive --test -U barman barman-host ${rsyncServer} DUMMY`, "postgres");

    say(
      `${serverNames.map((s) => `pg_ctlcluster ${SERVER_SPECS[s].major} main start on ${SERVER_SPECS[s].host}`).join("; ")}; roles barman and streaming_barman, database shop`,
    );
    await Promise.all(
      serverNames.map(async (server) => {
        const { container, role } = clusterOf(server);
        await exec(container, role, `pg_ctlcluster ${SERVER_SPECS[server].major} main start`, "root");
        for (const statement of ROLES_SQL(passwords)) await sql(server, statement, "postgres");
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
        where: where("barman"),
        env: { PATH: DEBIAN_PATH.barman },
        allowFailure: true,
      });
      return parseBarmanCheckText(result.stdout);
    };
    const waitForCheck = (what: string, allowFailing: (c: CheckResult) => boolean): Promise<CheckResult[]> =>
      pollUntil({
        what: `barman check on the docs host: ${what}`,
        budget: budgetOf(settings, "walStreamingReady"),
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
    /**
     * `barman switch-wal [--force] --archive`, one commit once Barman waits; returns the closed segment.
     * Barman 3.4 runs --force's CHECKPOINT only as a superuser ("Barman switch-wal requires superuser
     * rights"; pg_checkpoint came later): there a commit first gives the segment something to close.
     */
    const switchWal = async (server: DocsServerName, force: boolean): Promise<string> => {
      const forced = force && version !== "3.4";
      if (force && !forced) await commit(server);
      let committed: Promise<unknown> | undefined;
      const result = await barman(`switch-wal ${forced ? "--force " : ""}--archive --archive-timeout ${archiveTimeoutS} ${server}`, (line) => {
        if (!committed && /Waiting for the WAL file/.test(line)) committed = commit(server);
      });
      await committed;
      const closed = /The WAL file ([0-9A-F]{24}) has been closed/.exec(result.stdout)?.[1];
      if (!closed) throw new Error(`barman switch-wal ${server} closed no WAL file: ${result.stdout.trim()}`);
      return closed;
    };
    say(`barman switch-wal ${version === "3.4" ? "" : "--force "}--archive for ${serverNames.join(" and ")}`);
    await Promise.all(serverNames.map((s) => switchWal(s, true)));
    await waitForCheck("every check OK", () => false);
    const walShippingMs = since(walShippingStarted);

    // --- data and backups ----------------------------------------------------------------------------
    const dataStarted = monotonicNow();
    const countSql = `SELECT count(*)::int AS rows FROM ${TABLE}`;
    const count = async (server: DocsServerName): Promise<number> => Number(await sql(server, countSql));
    /** A field of `barman -f json show-backup` (the same shape from 3.4 to 3.20): `path` below the server's object. */
    const showBackup = (server: DocsServerName, backupId: string, path: string[]): Promise<string> =>
      barmanExec(
        `barman -f json show-backup ${server} ${backupId} | python3 -c 'import json,sys; print(json.load(sys.stdin)["${server}"]${path.map((p) => `["${p}"]`).join("")})'`,
      );
    const prepareData = async (server: DocsServerName): Promise<Omit<DocsServer, "host" | "database" | "table" | "countSql" | "layout">> => {
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
            // Barman may wait for the segment after a backup that ends on a segment boundary,
            // which an idle primary never fills (src/engine/phases.ts backUp).
            if (!nudged && /Waiting for the WAL file/.test(line))
              nudged = sql(server, "SELECT txid_current()")
                .then(() => sql(server, "SELECT pg_switch_wal()"))
                .then(() => commit(server))
                .catch(() => undefined);
          }),
        async () => `${await barmanExec(`du -sh ${BARMAN_HOME}/${server}/base | cut -f1`)} in base/`,
      );
      await nudged;
      const backupId = parseBackupId(result.stdout + result.stderr);
      const status = await showBackup(server, backupId, ["status"]);
      if (status !== "DONE") throw new Error(`${server}: backup ${backupId} is ${status}, not DONE:\n${result.stdout}${result.stderr}`);
      say(`${who}: backup ${backupId} DONE in ${seconds(monotonicNow() - backupStarted)}`);
      await sql(server, `INSERT INTO ${TABLE} (customer, amount) SELECT 'after-backup-' || g, g FROM generate_series(1, ${ROWS_AFTER_BACKUP}) AS g`);
      const atEndOfArchive = await count(server);
      const lastArchivedSegment = await switchWal(server, false);
      say(`${who}: ${atEndOfArchive} ${TABLE} rows archived through ${lastArchivedSegment}`);
      const { major, method, encryption, backupCompression, walCompression } = SERVER_SPECS[server];
      return {
        serverName: server,
        major,
        backupId,
        rows: { atBackup, atEndOfArchive },
        lastArchivedSegment,
        // What the cluster says, not what was asked for: initdb's default changed in PostgreSQL 18.
        dataChecksums: (await sql(server, "SHOW data_checksums")) === "on",
        method,
        compression: backupCompression,
        walCompression,
        encryption,
      };
    };
    const prepared = await Promise.all(serverNames.map((s) => prepareData(s)));
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

    const servers = Object.fromEntries(
      prepared.map((p): [DocsServerName, DocsServer] => [
        p.serverName,
        {
          ...p,
          host: SERVER_SPECS[p.serverName].host,
          database: DATABASE,
          table: TABLE,
          countSql,
          layout: "debian",
        },
      ]),
    ) as Record<DocsServerName, DocsServer>;
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
    const serverFiles = serverNames.map((s) => `/etc/barman.d/${s}.conf`).join(" ");
    /** What encryption_passphrase_command prints from now on. */
    const passphrase = async (text: string, which: "right" | "wrong"): Promise<void> => {
      await exec(barmanC, "barman", `umask 077 && printf '%s' "$1" > ${GPG_PASSPHRASE_FILE}`, "barman", { args: [text] });
      say(`encryption_passphrase_command (${GPG_PASSPHRASE_COMMAND}) now prints the ${which} passphrase`);
    };
    const host: DocsBarmanHostBase<DocsBarmanVersion> = {
      barman: barmanSide as DocsBarmanInfo<DocsBarmanVersion>,
      ssh,
      keysDirectory: keys,
      servers,
      containers: Object.fromEntries([...byRole].map(([role, c]) => [role, name(c)])) as DocsBarmanHostBase<DocsBarmanVersion>["containers"],
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
          `sed -i '/^path_prefix = /d' ${serverFiles} && for f in ${serverFiles}; do printf '%s\\n' 'path_prefix = "${pathPrefix}"' >> "$f"; done`,
        );
      },
      async deleteArchivedWal(server, segment) {
        if (segment !== undefined && !SEGMENT.test(segment)) throw new Error(`not a WAL segment name: '${segment}'`);
        const { backupId } = servers[server];
        const endWal = await showBackup(server, backupId, ["base_backup_information", "end_wal"]);
        const xlogDb = barmanSide.xlogDb(server);
        const archived = (await barmanExec(`cut -f1 ${xlogDb}`)).split("\n").filter((s) => SEGMENT.test(s));
        const chosen = segment ?? archived.filter((s) => s > endWal).sort()[0];
        if (!chosen) throw new Error(`${server}: no archived segment after the backup's end (${endWal}); archived: ${archived.join(", ")}`);
        if (!archived.includes(chosen)) throw new Error(`${server}: segment ${chosen} is not in Barman's archive (${archived.join(", ")})`);
        await barmanExec(`set -e; rm ${BARMAN_HOME}/${server}/wals/${chosen.slice(0, 16)}/${chosen}; sed -i '/^${chosen}\\t/d' ${xlogDb}`);
        say(`${server}: archived WAL segment ${chosen} deleted (the backup ends in ${endWal})`);
        return chosen;
      },
      async flipBytesInBackup(server = "pg15-rsync") {
        const relation = await sql(server, `SELECT pg_relation_filepath('${TABLE}')`);
        if (!/^base\/\d+\/\d+$/.test(relation)) throw new Error(`unexpected relation path '${relation}'`);
        const file = `${BARMAN_HOME}/${server}/base/${servers[server].backupId}/data/${relation}`;
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
        await killSshdProcesses();
      },
      async killSshdWhileSending(sender: string) {
        const budget = budgetOf(settings, "serviceReady");
        // Watched inside the host (a pgrep per few ms): a round trip per look from here could miss a short send.
        const pid = Number(
          (
            await exec(
              barmanC,
              "barman",
              [
                "set -uo pipefail",
                'pattern="$1"',
                `deadline=$(( $(date +%s) + ${Math.ceil(budget.ms / 1000)} ))`,
                'until pid=$(pgrep -u barman -f -- "$pattern" | head -n 1) && [ -n "$pid" ]; do',
                `  [ "$(date +%s)" -lt "$deadline" ] || { echo "no barman process matching $pattern within ${budget.name} (${budget.ms} ms)" >&2; exit 1; }`,
                "done",
                'kill -STOP "$pid" && echo "$pid"',
              ].join("\n"),
              "root",
              { args: [sender] },
            )
          ).stdout.trim(),
        );
        say(`sender ${sender} held (pid ${pid})`);
        await killSshdProcesses();
        await barmanExec(`kill -KILL ${pid} 2>/dev/null || true`, "root");
        return { senderPid: pid };
      },
      async startSshd() {
        await barmanExec(`install -d -m 0755 /run/sshd && ${SSHD}`, "root");
        say("sshd started again on the Barman host");
      },
      timingsMs,
      stop,
    };
    // Only a host with an encrypted server (3.20) has the GPG members (its type says so).
    if (gpgFingerprint === undefined) return host as unknown as DocsBarmanHost<V>;
    const gpg: DocsGpg = {
      gpg: { fingerprint: gpgFingerprint, home: GPG_HOME, passphraseFile: GPG_PASSPHRASE_FILE, passphraseCommand: GPG_PASSPHRASE_COMMAND },
      setWrongPassphrase: () => passphrase(passwords.wrongGpg, "wrong"),
      setRightPassphrase: () => passphrase(passwords.gpg, "right"),
    };
    return { ...host, ...gpg } as unknown as DocsBarmanHost<V>;
  } catch (error) {
    await stop();
    throw error;
  }
}
