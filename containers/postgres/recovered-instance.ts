// The recovered instance: PostgreSQL started from the data directory `barman recover` wrote.
// Started means promoted: PostgreSQL logs "ready to accept connections" (without "read-only") only
// once the recovery target is reached and the instance has left recovery. Two variants:
//  - on the drill's network, from the recovery volume, reached with the primary's credentials;
//  - isolated (the nightly verification): no network at all, the data directory streamed in as a
//    tar archive before the start, SQL through psql on the local socket only.
import type { Readable } from "node:stream";
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer, type StopOptions, type StoppedTestContainer, Wait } from "testcontainers";
import type { PrimaryLayout } from "../../src/drill/drill-config.ts";
import { type RecoveryLogFacts, readRecoveryLog } from "../../src/postgres/recovery-log.ts";
import { RECOVERY_MOUNT } from "../barman/barman-container.ts";
import { bindPortsToEngineAddress, PRIMARY_SERVER_OPTIONS } from "./postgres-containers.ts";
import { PgClientSession, PsqlSession, type SqlSession } from "./sql-session.ts";

const POSTGRES_PORT = 5432;
/** The isolated variant's data directory: the tar archive holds one top-level directory of this name. */
export const ISOLATED_PGDATA_NAME = "pgdata";
/** The isolated variant's own hba file (local trust, no network) and configuration file. */
export const ISOLATED_HBA_FILE = "/etc/pgdrill/verify_hba.conf";
const ISOLATED_CONFIG_FILE = "/etc/pgdrill/postgresql.conf";
export const ISOLATED_SOCKET_DIRECTORY = "/var/run/postgresql";

export type RecoveredInstanceSource =
  /**
   * A directory on the recovery volume. `layout` "debian": the instance reads a configuration in
   * /etc/postgresql/<major>/main made with pg_createcluster and pointed at the directory, as on a
   * recovery host set up like a Debian primary (the image's opt-in); otherwise the copy's own.
   */
  | { kind: "volume"; volume: string; directory: string; layout?: PrimaryLayout }
  /** `afterCopy` runs once the archive is unpacked and before the start: the end of the transfer. */
  /**
   * A tar archive of one top-level directory, pgdata/, unpacked into `parent` (the same path as on
   * the Barman server: Barman 3.13 and later write an absolute restore_command).
   */
  | { kind: "archive"; archive: Readable; parent: string; afterCopy: () => Promise<void> };

export type RecoveredInstanceAccess =
  | { kind: "network"; network: string; alias: string; superuser: { user: string; password: string; database: string } }
  | { kind: "isolated"; database: string; user: string };

export interface RecoveredInstanceOptions {
  image: string;
  labels: Record<string, string>;
  source: RecoveredInstanceSource;
  access: RecoveredInstanceAccess;
  startupTimeoutMs: number;
  statementTimeoutMs: number;
  /** An SSH key of the postgres user for the Barman server "barman" (WAL fetched with barman-wal-restore). */
  sshIdentity?: { privateKey: string };
  /**
   * The instance becomes production (Scenario 13's switchover): it archives into Barman from its
   * first second (the new timeline's history file, the old timeline's last partial segment) with
   * these settings (archive_command among them), instead of the throwaway's archive_mode = off.
   */
  asNewPrimary?: { settings: Record<string, string> };
  /**
   * Isolated only. The configuration the verifier controls (src/nightly/throwaway-config.ts): the
   * backup's postgresql.conf with what cannot hold in a throwaway copy neutralised, read as
   * config_file, and -c overrides that also beat postgresql.auto.conf.
   */
  configuration?: { file: string; overrides: Array<[string, string]> };
  /**
   * Isolated only. Before PostgreSQL starts, the copy is checked against this manifest (a path
   * inside the copy) with the image's pg_verifybackup, ignoring the files named (Barman's restore
   * changes or adds them); a copy that does not match never starts (the entrypoint's opt-in).
   */
  verifyManifest?: { manifest: string; ignore: string[] };
  /** Isolated only. A clean shutdown (stopServer) leaves the container up, so pg_checksums can read the copy after it. */
  stayAfterStop?: boolean;
}

export class RecoveredInstanceStartError extends Error {
  constructor(
    override readonly cause: Error,
    readonly log: RecoveryLogFacts,
    readonly tail: string,
    /** Everything the instance logged before it ended (the copy verification's lines among it). */
    readonly fullLog = "",
  ) {
    super(`the recovered instance did not promote (${cause.message}); PostgreSQL said:\n${log.fatalLines.length ? log.fatalLines.join("\n") : tail}`);
    this.name = "RecoveredInstanceStartError";
  }
}

export class RecoveredInstanceContainer extends GenericContainer {
  /** Everything the instance logged, kept here because Testcontainers removes a container that fails to start. */
  private log = "";

  constructor(private readonly options: RecoveredInstanceOptions) {
    super(options.image);
    // Never archive a throwaway copy's new timeline into the production Barman server: the recovered
    // data directory carries the primary's archive_command. A new primary is production: it must.
    // Command-line settings win over the postgresql.auto.conf Barman wrote (archive_command = false).
    const command = options.asNewPrimary
      ? ["postgres", ...PRIMARY_SERVER_OPTIONS, ...Object.entries(options.asNewPrimary.settings).flatMap(([name, value]) => ["-c", `${name}=${value}`])]
      : ["postgres", "-c", "archive_mode=off"];
    if (options.source.kind === "volume") {
      // The volume at the same path as on the Barman server: Barman 3.13 and later write an absolute
      // restore_command (cp /recovery/<dir>/barman_wal/%f %p), 3.4 a relative one.
      this.withBindMounts([{ source: options.source.volume, target: RECOVERY_MOUNT }]).withEnvironment({
        PGDATA: `${RECOVERY_MOUNT}/${options.source.directory}`,
        ...(options.source.layout === "debian" ? { PGDRILL_LAYOUT: "debian" } : {}),
      });
    } else {
      const pgdata = `${options.source.parent}/${ISOLATED_PGDATA_NAME}`;
      this.withEnvironment({
        PGDATA: pgdata,
        ...(options.verifyManifest
          ? { PGDRILL_VERIFY_MANIFEST: `${pgdata}/${options.verifyManifest.manifest}`, PGDRILL_VERIFY_IGNORE: options.verifyManifest.ignore.join(" ") }
          : {}),
        ...(options.stayAfterStop ? { PGDRILL_STAY_AFTER_STOP: "1" } : {}),
      }).withCopyContentToContainer([
        // A server whose configuration lives outside PGDATA (Debian's /etc/postgresql layout) has a
        // backup without postgresql.conf; this empty one is unpacked first, so the backup's own
        // file, when there is one, replaces it.
        // Copied before the archive, it also makes the parent directory the archive is unpacked into.
        { target: `${pgdata}/postgresql.conf`, content: "# empty: the backup carried no postgresql.conf\n", mode: 0o600 },
      ]);
      this.withCopyArchivesToContainer([{ tar: options.source.archive, target: options.source.parent }]);
    }
    if (options.access.kind === "network") {
      this.withNetworkMode(options.access.network).withNetworkAliases(options.access.alias).withExposedPorts(POSTGRES_PORT);
    } else {
      // No network at all: we do not know production's passwords and the copy must not be
      // reachable, so the only way in is the local socket, where our own hba file trusts every role.
      this.withNetworkMode("none").withCopyContentToContainer([
        { target: ISOLATED_HBA_FILE, content: "# pgdrill nightly verification: local socket only, no network\nlocal all all trust\n", mode: 0o644 },
      ]);
      if (options.configuration) {
        this.withCopyContentToContainer([{ target: ISOLATED_CONFIG_FILE, content: options.configuration.file, mode: 0o644 }]);
        command.push("-c", `config_file=${ISOLATED_CONFIG_FILE}`, ...options.configuration.overrides.flatMap(([name, value]) => ["-c", `${name}=${value}`]));
      } else {
        command.push(
          ...["-c", "listen_addresses=", "-c", `hba_file=${ISOLATED_HBA_FILE}`, "-c", `unix_socket_directories=${ISOLATED_SOCKET_DIRECTORY}`],
          // Production settings that would stop a copy from starting here or hide its log from us.
          ...["-c", "ssl=off", "-c", "logging_collector=off", "-c", "log_destination=stderr"],
        );
      }
    }
    if (options.sshIdentity) {
      // The entrypoint makes ~postgres/.ssh the postgres user's before PostgreSQL starts.
      this.withCopyContentToContainer([
        { target: "/var/lib/postgresql/.ssh/id_ed25519", content: options.sshIdentity.privateKey, mode: 0o600 },
        // The Barman server's host key is new every run: accepted on first use, pinned after.
        { target: "/var/lib/postgresql/.ssh/config", content: "Host barman\n  StrictHostKeyChecking accept-new\n  BatchMode yes\n", mode: 0o600 },
      ]);
    }
    this.withLabels(options.labels)
      .withCommand(command)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections$/))
      .withStartupTimeout(options.startupTimeoutMs)
      .withLogConsumer((stream) => stream.on("data", (chunk: Buffer | string) => (this.log += chunk.toString())));
  }

  protected override async beforeContainerCreated(): Promise<void> {
    await bindPortsToEngineAddress(this.hostConfig);
  }

  protected override async containerCreated(): Promise<void> {
    if (this.options.source.kind === "archive") await this.options.source.afterCopy();
  }

  override async start(): Promise<StartedRecoveredInstance> {
    let started: StartedTestContainer;
    try {
      started = await super.start();
    } catch (error) {
      throw new RecoveredInstanceStartError(error as Error, readRecoveryLog(this.log), this.log.trim().split("\n").slice(-8).join("\n"), this.log);
    }
    const { access, statementTimeoutMs } = this.options;
    let session: SqlSession;
    if (access.kind === "network") {
      const uri = `postgresql://${encodeURIComponent(access.superuser.user)}:${encodeURIComponent(access.superuser.password)}@${started.getHost()}:${started.getMappedPort(POSTGRES_PORT)}/${access.superuser.database}`;
      session = await PgClientSession.connect(uri, "recovered instance", statementTimeoutMs);
    } else {
      session = new PsqlSession(started.getId(), "recovered instance", { database: access.database, user: access.user, statementTimeoutMs });
    }
    return new StartedRecoveredInstance(started, session, () => this.log);
  }
}

export class StartedRecoveredInstance extends AbstractStartedContainer implements SqlSession {
  constructor(
    started: StartedTestContainer,
    readonly session: SqlSession,
    private readonly logSoFar: () => string,
  ) {
    super(started);
  }

  get role(): string {
    return this.session.role;
  }

  query<R extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]> {
    return this.session.query<R>(text, params);
  }

  one<R extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<R> {
    return this.session.one<R>(text, params);
  }

  rows(sql: string): Promise<unknown[][]> {
    return this.session.rows(sql);
  }

  /** Everything the instance logged since it was created. */
  serverLog(): string {
    return this.logSoFar();
  }

  recoveryLog(): RecoveryLogFacts {
    return readRecoveryLog(this.logSoFar());
  }

  override async stop(options: Partial<StopOptions> = {}): Promise<StoppedTestContainer> {
    if (this.session instanceof PgClientSession) await this.session.end();
    // A throwaway: killed, not shut down politely.
    return super.stop({ remove: true, removeVolumes: true, timeout: 0, ...options });
  }
}
