// The drill's primary, on @testcontainers/postgresql's PostgreSqlContainer with our locally built
// image (which honours the official image's POSTGRES_* contract). The recovered instances are in
// recovered-instance.ts. Both speak SQL through the one SqlSession interface (sql-session.ts).
import { PostgreSqlContainer, StartedPostgreSqlContainer } from "@testcontainers/postgresql";
import type pg from "pg";
import { type StopOptions, type StoppedTestContainer, Wait } from "testcontainers";
import type { PrimaryLayout } from "../../src/drill/drill-config.ts";
import { containerLogs } from "../docker-resources.ts";
import { portBindAddress } from "../engine-endpoint.ts";
import { PgClientSession, type SqlSession } from "./sql-session.ts";

export interface PostgresRoleOptions {
  image: string;
  /** Docker network of the run, and this role's host name on it. */
  network: string;
  alias: string;
  labels: Record<string, string>;
  superuser: { user: string; password: string; database: string };
  startupTimeoutMs: number;
  statementTimeoutMs: number;
}

/**
 * Host ports are opened on one address only (containers/engine-endpoint.ts): 127.0.0.1 for a local
 * engine, the address a remote engine is reached at for a remote one. A drill's databases are never
 * reachable on every interface of the engine's host.
 */
export async function bindPortsToEngineAddress(hostConfig: { PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }>> }): Promise<void> {
  const hostIp = await portBindAddress();
  const bindings = hostConfig.PortBindings ?? {};
  for (const port of Object.keys(bindings)) bindings[port] = [{ HostIp: hostIp, HostPort: "0" }];
  hostConfig.PortBindings = bindings;
}

/** Credentials, network, labels, one-address port, pg_isready (the primary is its only kind today). */
abstract class DrillPostgresContainer extends PostgreSqlContainer {
  protected constructor(protected readonly options: PostgresRoleOptions) {
    super(options.image);
    const { user, password, database } = options.superuser;
    this.withUsername(user)
      .withPassword(password)
      .withDatabase(database)
      .withNetworkMode(options.network)
      .withNetworkAliases(options.alias)
      .withLabels(options.labels)
      .withStartupTimeout(options.startupTimeoutMs)
      // A throwaway cluster: initdb need not fsync what a crash would lose anyway.
      .withEnvironment({ POSTGRES_INITDB_ARGS: "--no-sync" })
      // Ready when the server accepts connections: the exact event, no health-check interval to wait
      // out. Without init scripts the entrypoint starts no temporary server, so this line is the
      // final server's (the drill's primary has none).
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/))
      // Set so that PostgreSqlContainer adds none of its own (it would carry the password into
      // `docker inspect`); pg_isready needs no password. For people looking at `docker ps`.
      .withHealthCheck({
        test: ["CMD-SHELL", `pg_isready --host localhost --username ${user} --dbname ${database}`],
        interval: 1000,
        timeout: 1000,
        retries: 10_000,
      });
  }

  protected override async beforeContainerCreated(): Promise<void> {
    await bindPortsToEngineAddress(this.hostConfig);
  }
}

/** The started primary, with one open connection for the drill's SQL. */
export class StartedDrillPostgres extends StartedPostgreSqlContainer implements SqlSession {
  private constructor(
    started: StartedPostgreSqlContainer,
    readonly session: PgClientSession,
  ) {
    super(started, started.getDatabase(), started.getUsername(), started.getPassword());
  }

  static async connect(started: StartedPostgreSqlContainer, role: string, statementTimeoutMs: number): Promise<StartedDrillPostgres> {
    return new StartedDrillPostgres(started, await PgClientSession.connect(started.getConnectionUri(), role, statementTimeoutMs));
  }

  get role(): string {
    return this.session.role;
  }

  get client(): pg.Client {
    return this.session.client;
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

  /** The server log so far (stdout and stderr of the container). */
  async serverLog(): Promise<string> {
    return containerLogs(this.getId());
  }

  override async stop(options: Partial<StopOptions> = {}): Promise<StoppedTestContainer> {
    await this.session.end();
    // A drill's containers are throwaways: killed, not shut down politely (nothing waits on them).
    return super.stop({ remove: true, removeVolumes: true, timeout: 0, ...options });
  }
}

/** What a primary needs for Barman: WAL for replication, senders and slots for receive-wal, archiving. */
export const PRIMARY_SERVER_OPTIONS = ["-c", "wal_level=replica", "-c", "max_wal_senders=10", "-c", "max_replication_slots=10", "-c", "archive_mode=on"];

/** The production database of the drill: WAL streamed to Barman through a replication slot. */
export class PrimaryContainer extends DrillPostgresContainer {
  /**
   * `settings`: the user's postgresql.conf settings, passed as -c name=value.
   * `sshd`: start sshd for Barman's backup_method = rsync (Barman runs rsync over SSH as postgres).
   * `dataVolume`: a named volume for PGDATA (otherwise the container's own layer).
   * `layout`: "debian" makes the cluster with pg_createcluster (the image's opt-in): configuration in
   * /etc/postgresql/<major>/main, PGDATA in /var/lib/postgresql/<major>/main (`major`).
   */
  constructor(
    options: PostgresRoleOptions & {
      settings?: Record<string, string>;
      sshd?: boolean;
      dataVolume?: string;
      layout?: { kind: PrimaryLayout; major: string };
    },
  ) {
    super(options);
    if (options.sshd) this.withEnvironment({ PGDRILL_SSHD: "1" });
    const debian = options.layout?.kind === "debian";
    if (debian) this.withEnvironment({ PGDRILL_LAYOUT: "debian" });
    // PGDATA on a named volume of its own: a drill that destroys the primary's host (Scenario 13)
    // destroys this volume, and can prove it is gone.
    const pgdata = debian ? `/var/lib/postgresql/${options.layout?.major}/main` : "/var/lib/postgresql/data";
    if (options.dataVolume) this.withBindMounts([{ source: options.dataVolume, target: pgdata }]);
    const userSettings = Object.entries(options.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
    // Barman's streaming connection (pg_basebackup, pg_receivewal) needs a replication line in
    // pg_hba.conf; the official contract only adds "host all all all". The image's opt-in adds it
    // at initdb, without an init script (which would need a temporary server).
    this.withEnvironment({ PGDRILL_REPLICATION_HBA: "1" })
      // archive_command is set with ALTER SYSTEM once Barman trusts this server's SSH key
      // (DrillEnvironment.enableArchiveCommand); until then WAL waits in pg_wal, marked .ready.
      .withCommand(["postgres", ...PRIMARY_SERVER_OPTIONS, ...userSettings]);
  }

  override async start(): Promise<StartedDrillPostgres> {
    return StartedDrillPostgres.connect(await super.start(), "primary", this.options.statementTimeoutMs);
  }
}
