// The two PostgreSQL roles of a drill, on @testcontainers/postgresql's PostgreSqlContainer with our
// locally built image (which honours the official image's POSTGRES_* contract).
import { PostgreSqlContainer, StartedPostgreSqlContainer } from "@testcontainers/postgresql";
import { Wait, type StopOptions, type StoppedTestContainer } from "testcontainers";
import pg from "pg";
import { containerLogs } from "../docker-resources.ts";

export const POSTGRES_PORT = 5432;

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

/** Shared set-up of both roles: credentials, network, labels, loopback-only port, pg_isready. */
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
      // pg_isready needs no password; keeping it out of the health check keeps it out of `docker inspect`.
      .withHealthCheck({
        test: ["CMD-SHELL", `pg_isready --host localhost --username ${user} --dbname ${database}`],
        interval: 250,
        timeout: 1000,
        retries: 10_000,
      });
  }

  /** Host ports are bound to 127.0.0.1 only: a drill's databases are never reachable from the network. */
  protected override async beforeContainerCreated(): Promise<void> {
    const bindings = this.hostConfig.PortBindings ?? {};
    for (const port of Object.keys(bindings)) bindings[port] = [{ HostIp: "127.0.0.1", HostPort: "0" }];
    this.hostConfig.PortBindings = bindings;
  }
}

/** The first line of SQL that is not a comment, to name a failed statement. */
const firstStatementLine = (sql: string): string =>
  sql.split("\n").find((line) => line.trim() && !line.trim().startsWith("--"))?.trim() ?? sql.trim();

/** A started PostgreSQL role with one open connection for the drill's SQL. */
export class StartedDrillPostgres extends StartedPostgreSqlContainer {
  private constructor(
    started: StartedPostgreSqlContainer,
    readonly client: pg.Client,
    readonly role: string,
  ) {
    super(started, started.getDatabase(), started.getUsername(), started.getPassword());
  }

  static async connect(started: StartedPostgreSqlContainer, role: string, statementTimeoutMs: number): Promise<StartedDrillPostgres> {
    const client = new pg.Client({
      connectionString: started.getConnectionUri(),
      statement_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs + 5_000,
      application_name: "pgdrill",
    });
    await client.connect();
    // An error on an idle connection (e.g. the server stopped on purpose) must not crash the run.
    client.on("error", () => undefined);
    return new StartedDrillPostgres(started, client, role);
  }

  async query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.client.query<R>(text, params)).rows;
    } catch (error) {
      throw new Error(`SQL on the ${this.role} failed: ${(error as Error).message}\n  statement: ${firstStatementLine(text)}`);
    }
  }

  async one<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R> {
    const rows = await this.query<R>(text, params);
    if (rows.length !== 1) throw new Error(`expected one row from the ${this.role}, got ${rows.length}: ${text}`);
    return rows[0]!;
  }

  /** The server log so far (stdout and stderr of the container). */
  async serverLog(): Promise<string> {
    return containerLogs(this.getId());
  }

  override async stop(options: Partial<StopOptions> = {}): Promise<StoppedTestContainer> {
    await this.client.end().catch(() => undefined);
    return super.stop({ remove: true, removeVolumes: true, timeout: 5_000, ...options });
  }
}

/** The production database of the drill: WAL streamed to Barman through a replication slot. */
export class PrimaryContainer extends DrillPostgresContainer {
  /**
   * `settings`: the user's postgresql.conf settings, passed as -c name=value.
   * `sshd`: start sshd for Barman's backup_method = rsync (Barman runs rsync over SSH as postgres).
   */
  constructor(options: PostgresRoleOptions & { settings?: Record<string, string>; sshd?: boolean }) {
    super(options);
    if (options.sshd) this.withEnvironment({ PGDRILL_SSHD: "1" });
    const userSettings = Object.entries(options.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
    // Barman's streaming connection (pg_basebackup, pg_receivewal) needs a replication line in
    // pg_hba.conf; the official contract only adds "host all all all".
    this.withCopyContentToContainer([
      {
        target: "/docker-entrypoint-initdb.d/10-replication-hba.sh",
        content: `printf 'host replication all all scram-sha-256\\n' >> "$PGDATA/pg_hba.conf"\n`,
      },
    ])
      // archive_command is set with ALTER SYSTEM once Barman trusts this server's SSH key
      // (DrillEnvironment.enableArchiveCommand); until then WAL waits in pg_wal, marked .ready.
      .withCommand(["postgres", "-c", "wal_level=replica", "-c", "max_wal_senders=10", "-c", "max_replication_slots=10", "-c", "archive_mode=on", ...userSettings]);
  }

  override async start(): Promise<StartedDrillPostgres> {
    return StartedDrillPostgres.connect(await super.start(), "primary", this.options.statementTimeoutMs);
  }
}

/**
 * An instance started from the data directory `barman recover` wrote into a volume. Started means
 * promoted: PostgreSQL 15 logs "ready to accept connections" (without "read-only") only once the
 * recovery target is reached and the instance has left recovery.
 */
export class RecoveredInstanceContainer extends DrillPostgresContainer {
  constructor(options: PostgresRoleOptions & { volume: string; dataDirectory: string }) {
    super(options);
    this.withBindMounts([{ source: options.volume, target: "/var/lib/postgresql/recovery" }])
      // The recovered data directory carries the primary's archive_command: a throwaway copy must
      // never archive its new timeline into the production Barman server.
      .withCommand(["postgres", "-c", "archive_mode=off"])
      .withEnvironment({ PGDATA: `/var/lib/postgresql/recovery/${options.dataDirectory}` })
      .withWaitStrategy(
        Wait.forAll([Wait.forLogMessage(/database system is ready to accept connections$/), Wait.forHealthCheck()]),
      )
      .withLogConsumer((stream) => stream.on("data", (chunk: Buffer | string) => (this.log += chunk.toString())));
  }

  /** Everything the instance logged, kept here because Testcontainers removes a container that fails to start. */
  private log = "";

  override async start(): Promise<StartedDrillPostgres> {
    let started: StartedPostgreSqlContainer;
    try {
      started = await super.start();
    } catch (error) {
      const fatal = this.log.split("\n").filter((line) => /\b(FATAL|PANIC):/.test(line));
      const tail = this.log.trim().split("\n").slice(-8).join("\n");
      throw new Error(
        `the recovered instance did not promote (${(error as Error).message}); PostgreSQL said:\n${fatal.length ? fatal.join("\n") : tail}`,
      );
    }
    return StartedDrillPostgres.connect(started, "recovered instance", this.options.statementTimeoutMs);
  }
}
