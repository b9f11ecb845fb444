// The Barman server of a drill: backup_method = postgres and the streaming archiver on a
// replication slot, as in Barman's streaming-server template, beside the archive_command path.
// Barman commands go through the one client (barman-client.ts).
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer, type StopOptions, type StoppedTestContainer, Wait } from "testcontainers";
import { containerLogs } from "../docker-resources.ts";
import { execIn } from "../exec.ts";
import { bindPortsToEngineAddress } from "../postgres/postgres-containers.ts";
import { BarmanClient } from "./barman-client.ts";
import { DockerExecTransport } from "./transport.ts";

export const RECOVERY_MOUNT = "/recovery";
const SSH_PORT = 22;

export interface BarmanServerOptions {
  image: string;
  network: string;
  labels: Record<string, string>;
  /** Barman's name for the PostgreSQL server (the section in barman.conf). */
  serverName: string;
  /** Host name of the primary on the run's network. */
  primaryHost: string;
  database: string;
  barmanPassword: string;
  streamingPassword: string;
  /** Named volume where `barman recover` writes data directories for recovered instances. */
  recoveryVolume: string;
  startupTimeoutMs: number;
  /** Extra lines for the server section, e.g. compression. */
  extraServerSettings?: Record<string, string>;
  /** Publish sshd (port 22) on the engine's address: the Barman host as a nightly verification reaches it over SSH. */
  publishSsh?: boolean;
}

export function serverSection(options: Pick<BarmanServerOptions, "serverName" | "primaryHost" | "database" | "extraServerSettings">): string {
  const settings: Record<string, string> = {
    description: `"pgdrill primary ${options.primaryHost}"`,
    conninfo: `host=${options.primaryHost} user=barman dbname=${options.database}`,
    streaming_conninfo: `host=${options.primaryHost} user=streaming_barman`,
    backup_method: "postgres",
    streaming_archiver: "on",
    slot_name: "barman",
    create_slot: "auto",
    // Both WAL paths, as Barman recommends: pg_receivewal on the slot, and the primary's
    // archive_command (barman-wal-archive over SSH) into the incoming directory.
    archiver: "on",
    // Start the backup with an immediate checkpoint instead of waiting for a spread one (minutes
    // after a bulk load); it changes when the backup starts, not what it contains.
    immediate_checkpoint: "true",
    // backup_method = rsync logs in to the primary (see DrillEnvironment.enableRsyncBackups).
    ...(options.extraServerSettings?.["backup_method"] === "rsync"
      ? { ssh_command: `ssh postgres@${options.primaryHost}`, backup_options: "concurrent_backup" }
      : {}),
    ...options.extraServerSettings,
  };
  return `[${options.serverName}]\n${Object.entries(settings)
    .map(([k, v]) => `${k} = ${v}`)
    .join("\n")}\n`;
}

/** What one server's section needs: where its primary is, and the passwords of Barman's two roles there. */
export type BarmanServerEntry = Pick<
  BarmanServerOptions,
  "serverName" | "primaryHost" | "database" | "barmanPassword" | "streamingPassword" | "extraServerSettings"
>;

/** ~barman/.pgpass lines for one primary: the barman and streaming_barman roles. */
function pgpassLines(host: string, barmanPassword: string, streamingPassword: string): string {
  return [`${host}:5432:*:barman:${barmanPassword}`, `${host}:5432:*:streaming_barman:${streamingPassword}`].join("\n");
}

export class BarmanContainer extends GenericContainer {
  constructor(private readonly options: BarmanServerOptions) {
    super(options.image);
    const pgpass = pgpassLines(options.primaryHost, options.barmanPassword, options.streamingPassword);
    this.withNetworkMode(options.network)
      .withNetworkAliases("barman")
      .withLabels(options.labels)
      .withBindMounts([{ source: options.recoveryVolume, target: RECOVERY_MOUNT }])
      .withCopyContentToContainer([
        { target: `/etc/barman.d/${options.serverName}.conf`, content: serverSection(options) },
        { target: "/var/lib/barman/.pgpass", content: `${pgpass}\n`, mode: 0o600 },
      ])
      .withWaitStrategy(Wait.forLogMessage(/barman server ready/))
      .withStartupTimeout(options.startupTimeoutMs);
    if (options.publishSsh) this.withExposedPorts(SSH_PORT);
  }

  protected override async beforeContainerCreated(): Promise<void> {
    await bindPortsToEngineAddress(this.hostConfig);
  }

  override async start(): Promise<StartedBarmanServer> {
    return new StartedBarmanServer(await super.start(), this.options.serverName, this.options);
  }
}

/** The drill's Barman container: the client speaks to it with `docker exec`; the recovery volume is mounted here. */
export class StartedBarmanServer extends AbstractStartedContainer {
  readonly client: BarmanClient;

  constructor(
    started: StartedTestContainer,
    readonly serverName: string,
    private readonly options: BarmanServerOptions,
  ) {
    super(started);
    this.client = new BarmanClient(new DockerExecTransport(started.getId(), started.getName().replace(/^\//, "")), serverName);
  }

  /** Lets a client log in as the barman user with this public key (for barman-wal-archive). */
  async authorizeSshKey(publicKey: string): Promise<void> {
    if (!/^ssh-ed25519 [A-Za-z0-9+/=]+( \S+)?$/.test(publicKey.trim())) throw new Error(`not an ed25519 public key: ${publicKey.slice(0, 40)}`);
    await execIn(
      this.getId(),
      [
        "bash",
        "-c",
        'install -d -m 0700 ~/.ssh && printf "%s\n" "$1" >> ~/.ssh/authorized_keys && chmod 0600 ~/.ssh/authorized_keys',
        "authorize",
        publicKey.trim(),
      ],
      { user: "barman", where: "the Barman server" },
    );
  }

  /**
   * Re-points the server at a new primary (a switchover): conninfo and streaming_conninfo name
   * `host`, and .pgpass carries the same roles' passwords for it (the new primary was recovered
   * from this server's backup: its roles are the old primary's).
   */
  async pointAt(host: string): Promise<void> {
    await this.writeServer({ ...this.options, primaryHost: host });
  }

  /**
   * Another PostgreSQL server backed up by this Barman: its section in /etc/barman.d and its
   * .pgpass lines. Returns a client for it on the same transport as this server's.
   */
  async addServer(entry: BarmanServerEntry): Promise<BarmanClient> {
    await this.writeServer(entry);
    return new BarmanClient(this.client.transport, entry.serverName);
  }

  /** Writes (or rewrites) a server's section and appends its .pgpass lines, as the barman user. */
  private async writeServer(entry: BarmanServerEntry): Promise<void> {
    if (!/^[A-Za-z0-9_.-]+$/.test(entry.serverName)) throw new Error(`not a Barman server name: '${entry.serverName}'`);
    const pgpass = pgpassLines(entry.primaryHost, entry.barmanPassword, entry.streamingPassword);
    await execIn(
      this.getId(),
      [
        "bash",
        "-c",
        'printf "%s" "$1" > "/etc/barman.d/$3.conf" && printf "%s\n" "$2" >> ~/.pgpass',
        "write-server",
        serverSection(entry),
        pgpass,
        entry.serverName,
      ],
      { user: "barman", where: "the Barman server" },
    );
  }

  /** Where the published sshd is reached (publishSsh), and its ed25519 host key line, for a known_hosts file. */
  async sshEndpoint(): Promise<{ host: string; port: number; hostKey: string }> {
    const hostKey = (await execIn(this.getId(), ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"], { user: "root", where: "the Barman server" })).stdout.trim();
    return { host: this.getHost(), port: this.getMappedPort(SSH_PORT), hostKey: hostKey.split(" ").slice(0, 2).join(" ") };
  }

  async containerLog(): Promise<string> {
    return containerLogs(this.getId());
  }

  override async stop(options: Partial<StopOptions> = {}): Promise<StoppedTestContainer> {
    return super.stop({ remove: true, removeVolumes: true, timeout: 2_000, ...options });
  }
}
