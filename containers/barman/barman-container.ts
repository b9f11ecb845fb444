// The Barman server of a drill: Barman 3.4 with backup_method = postgres and the streaming
// archiver on a replication slot, as in Barman's streaming-server template. Every operation is a
// `barman` command run as the barman user, its output streamed and kept as evidence.
import { AbstractStartedContainer, GenericContainer, Wait, type StartedTestContainer, type StopOptions, type StoppedTestContainer } from "testcontainers";
import { containerLogs } from "../docker-resources.ts";
import { execIn, type ExecResult } from "../exec.ts";
import {
  archivedSegmentPath,
  parseBackupId,
  parseCheck,
  parseListBackup,
  parseShowBackup,
  parseWalsDirectory,
  recoverSucceeded,
  type BackupDetails,
  type BackupListEntry,
  type CheckLine,
} from "../../src/barman-output.ts";
import { barmanTargetArgs, describeTarget, type RecoveryTarget } from "../../src/recovery-target.ts";
import { pollUntil } from "../../src/wait.ts";

export const RECOVERY_MOUNT = "/recovery";

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
  return `[${options.serverName}]\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join("\n")}\n`;
}

export class BarmanContainer extends GenericContainer {
  constructor(private readonly options: BarmanServerOptions) {
    super(options.image);
    const pgpass = [
      `${options.primaryHost}:5432:*:barman:${options.barmanPassword}`,
      `${options.primaryHost}:5432:*:streaming_barman:${options.streamingPassword}`,
    ].join("\n");
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
  }

  override async start(): Promise<StartedBarmanServer> {
    return new StartedBarmanServer(await super.start(), this.options.serverName);
  }
}

export type LineSink = (line: string) => void;

export class StartedBarmanServer extends AbstractStartedContainer {
  private walsDirectory: string | undefined;
  /** Every barman command run, with its output: evidence for the report when something fails. */
  readonly transcript: ExecResult[] = [];

  constructor(
    started: StartedTestContainer,
    readonly serverName: string,
  ) {
    super(started);
  }

  /** Runs `barman ARGS` as the barman user; throws with Barman's own words on a non-zero exit. */
  async barman(args: string[], options: { onLine?: LineSink; allowFailure?: boolean } = {}): Promise<ExecResult> {
    const result = await execIn(this.getId(), ["barman", ...args], {
      user: "barman",
      where: "the Barman server",
      allowFailure: options.allowFailure,
      onLine: options.onLine ? (line) => options.onLine!(line) : undefined,
    }).catch((error: unknown) => {
      if ((error as { result?: ExecResult }).result) this.transcript.push((error as { result: ExecResult }).result);
      throw error;
    });
    this.transcript.push(result);
    return result;
  }

  /** A shell script on the Barman server (inspection and fault injection by drills and the bench); returns stdout. */
  async shell(script: string, options: { user?: "barman" | "root" } = {}): Promise<string> {
    return (await execIn(this.getId(), ["bash", "-c", script], { user: options.user ?? "barman", where: "the Barman server" })).stdout.trim();
  }

  async version(): Promise<string> {
    return (await this.barman(["--version"])).stdout.split("\n")[0]!.trim();
  }

  async check(): Promise<CheckLine[]> {
    // `barman check` exits 1 when a check fails; the lines are what we want either way.
    const result = await this.barman(["-f", "json", "check", this.serverName], { allowFailure: true });
    return parseCheck(result.stdout, this.serverName);
  }

  /**
   * `barman cron` starts receive-wal (pg_receivewal on the slot, created by create_slot = auto);
   * then wait until Barman reports the slot and the streaming process as OK.
   */
  async startWalStreaming(budgetMs: number): Promise<void> {
    await this.barman(["cron"]);
    await pollUntil({
      what: `Barman WAL streaming from ${this.serverName} (receive-wal running, replication slot active)`,
      budget: "walStreamingReady",
      budgetMs,
      probe: () => this.check(),
      done: (lines) => ["receive wal running", "replication slot", "postgresql streaming"].every((c) => lines.find((l) => l.check === c)?.ok),
      describe: (lines) => lines.filter((l) => !l.ok).map((l) => `${l.check}: FAILED ${l.hint}`).join("; "),
      intervalMs: 200,
    });
  }

  /**
   * Waits until `segment` is in Barman's WAL archive. archive-wal moves completed segments from
   * the streaming directory into the archive; each probe runs it, then looks for the file.
   */
  async waitForArchivedSegment(segment: string, budgetMs: number): Promise<void> {
    this.walsDirectory ??= parseWalsDirectory((await this.barman(["-f", "json", "show-server", this.serverName])).stdout, this.serverName);
    const path = archivedSegmentPath(this.walsDirectory, segment);
    await pollUntil({
      what: `WAL segment ${segment} archived by Barman (${path})`,
      budget: "walArchived",
      budgetMs,
      probe: async () =>
        (await execIn(this.getId(), ["bash", "-c", `barman archive-wal ${this.serverName} >/dev/null && test -f ${path}`], {
          user: "barman",
          where: "the Barman server",
          allowFailure: true,
        })).exitCode === 0,
      done: (archived) => archived,
      describe: () => "not in the archive yet",
    }).catch(async (error: Error) => {
      // Say why, in Barman's words: its log holds the archiver's errors (e.g. a missing compressor).
      const log = await this.barmanLog().catch(() => "");
      const errors = log.split("\n").filter((line) => /ERROR|Exception|err'/.test(line)).slice(-5);
      throw new Error(`${error.message}${errors.length ? `\nBarman's log:\n${errors.join("\n")}` : ""}`);
    });
  }

  /** `barman backup --wait`: returns once the backup and the WAL it needs are in Barman. */
  async backup(options: { budgetMs: number; onLine?: LineSink }): Promise<{ backupId: string; output: string; durationMs: number }> {
    const waitS = Math.max(1, Math.floor(options.budgetMs / 1000));
    const result = await this.barman(["backup", "--wait", "--wait-timeout", String(waitS), this.serverName], { onLine: options.onLine });
    const output = result.stdout + result.stderr;
    return { backupId: parseBackupId(output), output, durationMs: result.durationMs };
  }

  async listBackups(): Promise<BackupListEntry[]> {
    return parseListBackup((await this.barman(["-f", "json", "list-backup", this.serverName])).stdout, this.serverName);
  }

  async showBackup(backupId: string): Promise<BackupDetails> {
    return parseShowBackup((await this.barman(["-f", "json", "show-backup", this.serverName, backupId])).stdout, this.serverName);
  }

  /**
   * `barman verify-backup`: pg_verifybackup checks every file of the backup against its manifest
   * (and the WAL the backup needs). Returns Barman's words; throws with them when the backup is damaged.
   */
  async verifyBackup(backupId: string): Promise<string> {
    const result = await this.barman(["verify-backup", this.serverName, backupId], { allowFailure: true });
    const words = (result.stdout + result.stderr).trim();
    if (result.exitCode !== 0 || /\b(ERROR|error):/.test(words)) {
      throw new Error(`barman verify-backup found backup ${backupId} of ${this.serverName} damaged (exit ${result.exitCode}):\n${words}`);
    }
    return words;
  }

  /** Lets a client log in as the barman user with this public key (for barman-wal-archive). */
  async authorizeSshKey(publicKey: string): Promise<void> {
    if (!/^ssh-ed25519 [A-Za-z0-9+/=]+( \S+)?$/.test(publicKey.trim())) throw new Error(`not an ed25519 public key: ${publicKey.slice(0, 40)}`);
    await execIn(
      this.getId(),
      ["bash", "-c", 'install -d -m 0700 ~/.ssh && printf "%s\n" "$1" >> ~/.ssh/authorized_keys && chmod 0600 ~/.ssh/authorized_keys', "authorize", publicKey.trim()],
      { user: "barman", where: "the Barman server" },
    );
  }

  /** A directory in the recovery volume, owned by barman, for one recovered instance. */
  async prepareRecoveryDirectory(name: string): Promise<string> {
    const path = `${RECOVERY_MOUNT}/${name}`;
    await execIn(this.getId(), ["install", "-d", "-o", "barman", "-g", "barman", "-m", "0700", path], { user: "root", where: "the Barman server" });
    return path;
  }

  async removeRecoveryDirectory(name: string): Promise<void> {
    await execIn(this.getId(), ["rm", "-rf", `${RECOVERY_MOUNT}/${name}`], { user: "root", where: "the Barman server" });
  }

  async recoveryDirectoryExists(name: string): Promise<boolean> {
    const r = await execIn(this.getId(), ["test", "-e", `${RECOVERY_MOUNT}/${name}`], { user: "root", where: "the Barman server", allowFailure: true });
    return r.exitCode === 0;
  }

  async readRecoveredFile(name: string, file: string): Promise<string> {
    return (await execIn(this.getId(), ["cat", `${RECOVERY_MOUNT}/${name}/${file}`], { user: "root", where: "the Barman server" })).stdout;
  }

  /** `barman recover` into the recovery volume, with the target and `--target-action promote`. */
  async recover(options: { backupId: string; directory: string; target: RecoveryTarget; onLine?: LineSink }): Promise<{ output: string; durationMs: number }> {
    const destination = await this.prepareRecoveryDirectory(options.directory);
    const targetArgs = barmanTargetArgs(options.target);
    const args = ["recover", this.serverName, options.backupId, destination, ...targetArgs];
    if (options.target.kind !== "latest") args.push("--target-action", "promote");
    const result = await this.barman(args, { onLine: options.onLine, allowFailure: true });
    const output = (result.stdout + result.stderr).trim();
    if (result.exitCode !== 0 || !recoverSucceeded(output)) {
      throw new Error(
        `barman recover of backup ${options.backupId} to ${describeTarget(options.target)} failed (exit ${result.exitCode}):\n${output}`,
      );
    }
    return { output, durationMs: result.durationMs };
  }

  async containerLog(): Promise<string> {
    return containerLogs(this.getId());
  }

  /** Barman's own log file, for the report when a step fails. */
  async barmanLog(): Promise<string> {
    const r = await execIn(this.getId(), ["tail", "-n", "200", "/var/log/barman/barman.log"], { user: "root", where: "the Barman server", allowFailure: true });
    return r.stdout;
  }

  override async stop(options: Partial<StopOptions> = {}): Promise<StoppedTestContainer> {
    return super.stop({ remove: true, removeVolumes: true, timeout: 2_000, ...options });
  }
}
