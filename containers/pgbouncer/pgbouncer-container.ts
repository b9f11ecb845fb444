// The application's view of the database in Scenario 13: one PgBouncer in front of the primary,
// the one address applications know. A switchover moves what that address points at (the
// [databases] entry, then RELOAD on PgBouncer's admin console) while the address itself, and so
// every application's configuration, stays the same: the seed's "update DNS/VIP", done the way
// teams running PgBouncer do it. A Docker network alias would need the application inside the
// drill network and would be subject to its DNS caching; PgBouncer is reached on a published port
// by the workload in the test process, and its reload takes effect for the next server connection.
import pg from "pg";
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer, type StopOptions, type StoppedTestContainer, Wait } from "testcontainers";
import { containerLogs } from "../docker-resources.ts";
import { execIn } from "../exec.ts";
import { bindPortsToEngineAddress } from "../postgres/postgres-containers.ts";

const PGBOUNCER_PORT = 6432;
const CONFIG_FILE = "/etc/pgbouncer/pgdrill.ini";
const USERLIST_FILE = "/etc/pgbouncer/pgdrill-users.txt";
/** PgBouncer's administrator, known to PgBouncer alone (its admin console is the virtual database "pgbouncer"). */
const ADMIN_USER = "pgdrill_admin";

export interface PgBouncerOptions {
  /** The PostgreSQL image: Debian's pgbouncer package is installed in it (containers/debian-packages.txt). */
  image: string;
  network: string;
  labels: Record<string, string>;
  /** The database applications connect to, and the server it lives on now. */
  database: string;
  serverHost: string;
  /** The application's role (it must exist on the server with this password). */
  application: { user: string; password: string };
  adminPassword: string;
  startupTimeoutMs: number;
}

/**
 * pgbouncer.ini for one database. The three timeouts are lowered from PgBouncer's defaults so that
 * an outage reaches the application as errors within a second or two instead of queued waits of
 * up to two minutes, and a new server is tried at once after the switch:
 * server_login_retry 15 s -> 1 s, query_wait_timeout 120 s -> 2 s, server_connect_timeout 15 s -> 2 s.
 * They change how fast the drill sees the outage and the recovery, not what is recovered.
 */
export function pgbouncerIni(options: { database: string; serverHost: string }): string {
  return [
    "[databases]",
    `${options.database} = host=${options.serverHost} port=5432 dbname=${options.database}`,
    "",
    "[pgbouncer]",
    "listen_addr = *",
    `listen_port = ${PGBOUNCER_PORT}`,
    "unix_socket_dir =",
    "auth_type = scram-sha-256",
    `auth_file = ${USERLIST_FILE}`,
    `admin_users = ${ADMIN_USER}`,
    "pool_mode = session",
    "server_login_retry = 1",
    "query_wait_timeout = 2",
    "server_connect_timeout = 2",
    "logfile =",
    "log_connections = 1",
    "log_disconnections = 1",
    "",
  ].join("\n");
}

const quoted = (s: string): string => `"${s.replaceAll('"', '""')}"`;

export class PgBouncerContainer extends GenericContainer {
  constructor(private readonly options: PgBouncerOptions) {
    super(options.image);
    const userlist = [
      `${quoted(options.application.user)} ${quoted(options.application.password)}`,
      `${quoted(ADMIN_USER)} ${quoted(options.adminPassword)}`,
    ].join("\n");
    this.withNetworkMode(options.network)
      .withNetworkAliases("pgbouncer")
      .withLabels(options.labels)
      .withExposedPorts(PGBOUNCER_PORT)
      .withCopyContentToContainer([
        { target: CONFIG_FILE, content: pgbouncerIni(options), mode: 0o644 },
        { target: USERLIST_FILE, content: `${userlist}\n`, mode: 0o644 },
      ])
      // PgBouncer refuses to run as root: the image's postgres user runs it.
      .withEntrypoint(["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "pgbouncer", CONFIG_FILE])
      .withWaitStrategy(Wait.forLogMessage(/process up: PgBouncer/))
      .withStartupTimeout(options.startupTimeoutMs);
  }

  protected override async beforeContainerCreated(): Promise<void> {
    await bindPortsToEngineAddress(this.hostConfig);
  }

  override async start(): Promise<StartedPgBouncer> {
    return new StartedPgBouncer(await super.start(), this.options);
  }
}

export class StartedPgBouncer extends AbstractStartedContainer {
  private serverHost: string;

  constructor(
    started: StartedTestContainer,
    private readonly options: PgBouncerOptions,
  ) {
    super(started);
    this.serverHost = options.serverHost;
  }

  /** The one connection string applications use: the same before and after a switchover. */
  applicationUri(): string {
    const { user, password } = this.options.application;
    return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${this.getHost()}:${this.getMappedPort(PGBOUNCER_PORT)}/${this.options.database}`;
  }

  /** The server the application's name points at now. */
  currentServer(): string {
    return this.serverHost;
  }

  /**
   * Fencing, the first thing a runbook does once the primary is lost: DISABLE refuses every new
   * client on the database, so nothing can write at the old address while the recovery runs. It
   * matters here for real: Docker gives a new container a freed address, and PgBouncer's DNS cache
   * (dns_max_ttl) still maps the old name to it, so without the fence the application's writes
   * would reach the instance being recovered before anyone decided to switch (seen in this drill).
   */
  async fence(): Promise<void> {
    await this.admin((client) => client.query(`DISABLE ${this.options.database}`));
  }

  /**
   * The switchover: the database entry now names `serverHost`, PgBouncer reloads its
   * configuration and accepts clients again. Returns what SHOW DATABASES says afterwards, which is
   * where PgBouncer itself says where it sends the application.
   */
  async pointAt(serverHost: string): Promise<{ host: string }> {
    await execIn(this.getId(), ["bash", "-c", 'printf "%s" "$1" > "$2"', "write", pgbouncerIni({ database: this.options.database, serverHost }), CONFIG_FILE], {
      // The file was copied in as root's; PgBouncer (the postgres user) only reads it.
      user: "root",
      where: "PgBouncer",
    });
    const databases = await this.admin(async (client) => {
      await client.query("RELOAD");
      await client.query(`ENABLE ${this.options.database}`);
      return (await client.query<{ name: string; host: string }>("SHOW DATABASES")).rows;
    });
    const entry = databases.find((d) => d.name === this.options.database);
    if (!entry) throw new Error(`PgBouncer has no database ${this.options.database} after RELOAD`);
    this.serverHost = entry.host;
    return { host: entry.host };
  }

  /** A statement on PgBouncer's admin console (simple query protocol only, as it requires). */
  private async admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({
      host: this.getHost(),
      port: this.getMappedPort(PGBOUNCER_PORT),
      user: ADMIN_USER,
      password: this.options.adminPassword,
      database: "pgbouncer",
      connectionTimeoutMillis: 5_000,
    });
    client.on("error", () => undefined);
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async containerLog(): Promise<string> {
    return containerLogs(this.getId());
  }

  override async stop(options: Partial<StopOptions> = {}): Promise<StoppedTestContainer> {
    return super.stop({ remove: true, removeVolumes: true, timeout: 0, ...options });
  }
}
