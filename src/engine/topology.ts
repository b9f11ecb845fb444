// The drill's topology, as Barman's documentation sets it up: a private network per run, a
// primary, a Barman server streaming WAL through a replication slot, a volume that `barman
// recover` writes into and recovered instances start from. Dedicated barman / streaming_barman
// roles with random scram-sha-256 passwords; host ports on 127.0.0.1 only.

import { randomBytes } from "node:crypto";
import type { BarmanClient } from "../../containers/barman/barman-client.ts";
import { BarmanContainer, type StartedBarmanServer } from "../../containers/barman/barman-container.ts";
import { barmanRoleStatements } from "../../containers/barman/barman-roles.ts";
import { docker, runLabels } from "../../containers/docker-resources.ts";
import { execIn } from "../../containers/exec.ts";
import type { DrillImages } from "../../containers/images.ts";
import { BARMAN_VERSIONS } from "../../containers/platforms.ts";
import { PrimaryContainer, type StartedDrillPostgres } from "../../containers/postgres/postgres-containers.ts";
import { RecoveredInstanceContainer, type StartedRecoveredInstance } from "../../containers/postgres/recovered-instance.ts";
import type { SqlSession } from "../../containers/postgres/sql-session.ts";
import type { DrillSettings } from "../drill/config.ts";
import { budgetOf } from "../drill/config.ts";
import type { PrimaryLayout } from "../drill/drill-config.ts";
import { RecoveryVolume } from "./recovery-volume.ts";

export interface DrillRun {
  runId: string;
  /** PID of the Vitest process that owns the run: a later run reaps this run's leftovers once it is gone. */
  ownerPid: number;
  images: DrillImages;
}

/** An engine inspect call: true if it answers, false on 404, any other error thrown. */
const existsUnless404 = (inspect: Promise<unknown>): Promise<boolean> =>
  inspect.then(
    () => true,
    (error: { statusCode?: number }) => {
      if (error.statusCode === 404) return false;
      throw error;
    },
  );

const secret = (): string => randomBytes(18).toString("base64url");

/** Passwords of Barman's two roles on one primary. */
interface BarmanRolePasswords {
  barman: string;
  streaming: string;
}

/** A primary for Barman to back up, on the environment's network under `alias`. */
function startPrimary(options: {
  image: string;
  containerName: string;
  network: string;
  alias: string;
  labels: Record<string, string>;
  superuser: { user: string; password: string; database: string };
  settings: DrillSettings;
  primarySettings: Record<string, string> | undefined;
  barmanServerSettings: Record<string, string> | undefined;
  dataVolume?: string;
  /** Default: the official image's layout. */
  layout?: { kind: PrimaryLayout; major: string };
}): Promise<StartedDrillPostgres> {
  return new PrimaryContainer({
    image: options.image,
    network: options.network,
    alias: options.alias,
    labels: options.labels,
    superuser: options.superuser,
    startupTimeoutMs: options.settings.budgetsMs.containerStart,
    statementTimeoutMs: options.settings.budgetsMs.sqlStatement,
    settings: options.primarySettings,
    sshd: options.barmanServerSettings?.["backup_method"] === "rsync",
    dataVolume: options.dataVolume,
    layout: options.layout,
  })
    .withName(options.containerName)
    .start();
}

/** Least privilege, as in Barman's "Preliminary steps" for PostgreSQL 15: no superuser for Barman. */
async function createBarmanRoles(primary: StartedDrillPostgres, passwords: BarmanRolePasswords): Promise<void> {
  for (const statement of barmanRoleStatements(passwords)) await primary.query(statement);
}

/**
 * pg_switch_wal() on `primary`, then one committed transaction. Why the commit: Barman's
 * archive-wal always leaves the newest complete segment in its streaming directory until
 * pg_receivewal opens the next one, which needs new WAL; an idle primary writes none for up to
 * 15 s (the next running-xacts record). The commit is that WAL, at once.
 * The closed segment is named from the last byte before the switch point: pg_switch_wal()
 * returns the first byte after the completed segment, and which segment pg_walfile_name() names
 * for a segment's first byte is not the same in every PostgreSQL version (18 names the next).
 */
async function switchWalOn(primary: SqlSession): Promise<{ closedSegment: string }> {
  const { segment } = await primary.one<{ segment: string }>("SELECT pg_walfile_name(pg_switch_wal() - 1) AS segment");
  await primary.query("SELECT txid_current()");
  return { closedSegment: segment };
}

/**
 * One PostgreSQL server that the environment's Barman backs up: its primary and its own Barman
 * client (the environment's transport, this server's name). The environment's first server is
 * one; DrillEnvironment.addServer adds more.
 */
export class HostedServer {
  constructor(
    /** Barman's name for the server (its section in /etc/barman.d). */
    readonly serverName: string,
    /** The primary's host name on the environment's network. */
    readonly host: string,
    readonly database: string,
    readonly superuser: { user: string; password: string; database: string },
    /** The primary as started (a Scenario 13 switchover does not move this; see DrillEnvironment.currentPrimary). */
    readonly primary: StartedDrillPostgres,
    readonly barman: BarmanClient,
  ) {}

  /** pg_switch_wal() and one commit on this server's primary (see switchWalOn). */
  switchWal(): Promise<{ closedSegment: string }> {
    return switchWalOn(this.primary);
  }

  /** WAL written and the segment switched: the current segment is closed and the next one opened. */
  async nudgeWal(): Promise<void> {
    await this.primary.query("SELECT txid_current()");
    await this.switchWal();
  }
}

export class DrillEnvironment {
  /** Recovered instances by the name of their directory in the recovery volume. */
  readonly recovered = new Map<string, StartedRecoveredInstance>();
  /** The Barman client of this environment's first server. */
  readonly barman: BarmanClient;
  /** Every PostgreSQL server this environment's Barman backs up, by Barman's name: the first one, then those of addServer. */
  readonly servers = new Map<string, HostedServer>();
  /** The primaries addServer started (stopped with the environment, also when addServer failed half-way). */
  private readonly addedPrimaries: StartedDrillPostgres[] = [];

  private constructor(
    /** Name prefix of this environment's containers, network and volumes. */
    readonly prefix: string,
    readonly run: DrillRun,
    readonly images: DrillImages,
    readonly settings: DrillSettings,
    readonly network: string,
    readonly recoveryVolume: string,
    readonly superuser: { user: string; password: string; database: string },
    readonly primary: StartedDrillPostgres,
    readonly barmanServer: StartedBarmanServer,
    readonly labels: Record<string, string>,
  ) {
    this.barman = barmanServer.client;
    this.recoveryDirectories = new RecoveryVolume(this.barman);
  }

  /** The recovered instances' directories in the recovery volume (barman recover writes them on the Barman server). */
  readonly recoveryDirectories: RecoveryVolume;

  /** The secrets of this run, for masking in anything written to a report. */
  readonly secrets: string[] = [];

  /** Other containers of this environment (Scenario 13's PgBouncer), removed with it. */
  readonly companions: Array<{ stop(): Promise<unknown> }> = [];

  /** The primary's own data volume, when it has one (Scenario 13). */
  primaryDataVolume: string | undefined;

  /** Where the primary keeps its configuration; the recovered instances are set up the same way. */
  primaryLayout: PrimaryLayout = "official";

  /** A recovered instance that became production after a switchover (Scenario 13). */
  private newPrimary: SqlSession | undefined;

  /** The server production writes go to now: the primary, or the instance promoted in its place. */
  get currentPrimary(): SqlSession {
    return this.newPrimary ?? this.primary;
  }

  /** From now on `instance` is production: WAL switches and nudges go to it. */
  adoptAsPrimary(instance: SqlSession): void {
    this.newPrimary = instance;
  }

  /**
   * The primary's host is lost: its container killed with SIGKILL (no shutdown checkpoint, no last
   * WAL flush, no goodbye to Barman), removed, and its data volume destroyed. Returns the monotonic
   * time of the kill.
   */
  async losePrimaryHost(): Promise<{ killedAt: number; volumeDestroyed: string | undefined }> {
    const container = docker().getContainer(this.primary.getId());
    const killedAt = performance.now();
    await container.kill({ signal: "SIGKILL" });
    await this.primary.session.end().catch(() => undefined);
    await container.remove({ force: true, v: true });
    if (this.primaryDataVolume) await docker().getVolume(this.primaryDataVolume).remove({ force: true });
    return { killedAt, volumeDestroyed: this.primaryDataVolume };
  }

  async volumeExists(name: string): Promise<boolean> {
    return existsUnless404(docker().getVolume(name).inspect());
  }

  static async start(options: {
    /** The images of the drill's platform (containers/images.ts). */
    images: DrillImages;
    /** Short name of this environment, unique within the run (container and volume names). */
    name: string;
    run: DrillRun;
    settings: DrillSettings;
    serverName: string;
    database: string;
    progress: (line: string) => void;
    /** Extra lines for Barman's server section (e.g. bandwidth_limit). */
    barmanServerSettings?: Record<string, string>;
    /** The primary's postgresql.conf settings (-c name=value). */
    primarySettings?: Record<string, string>;
    /** Where the primary (and so the recovered instances) keep their configuration; default "official". */
    primaryLayout?: PrimaryLayout;
    /** PGDATA of the primary on a volume of its own, which a host loss destroys (Scenario 13). */
    primaryDataVolume?: boolean;
    /** The Barman server's sshd published on the engine's address (the nightly verification over SSH). */
    publishBarmanSsh?: boolean;
  }): Promise<DrillEnvironment> {
    const { run, settings, progress } = options;
    const labels = runLabels(run.runId, run.ownerPid);
    const prefix = `pgdrill-${run.runId}-${options.name}`;
    const network = `${prefix}-net`;
    const recoveryVolume = `${prefix}-recovery`;
    progress(`creating network ${network} and volume ${recoveryVolume}`);
    await docker().createNetwork({ Name: network, Driver: "bridge", Labels: labels, CheckDuplicate: true });
    await docker().createVolume({ Name: recoveryVolume, Labels: labels });
    const primaryDataVolume = options.primaryDataVolume ? `${prefix}-primary-data` : undefined;
    if (primaryDataVolume) await docker().createVolume({ Name: primaryDataVolume, Labels: labels });

    const superuser = { user: "postgres", password: secret(), database: options.database };
    const passwords: BarmanRolePasswords = { barman: secret(), streaming: secret() };

    // The primary and the Barman server start together: neither needs the other to come up.
    progress("starting the primary and the Barman server");
    const primaryStarting = startPrimary({
      image: options.images.postgres,
      containerName: `${prefix}-primary`,
      network,
      alias: "pg-primary",
      labels,
      superuser,
      settings,
      primarySettings: options.primarySettings,
      barmanServerSettings: options.barmanServerSettings,
      dataVolume: primaryDataVolume,
      layout: { kind: options.primaryLayout ?? "official", major: options.images.platform.postgres },
    });
    const barmanStarting = new BarmanContainer({
      image: options.images.barman,
      network,
      labels,
      serverName: options.serverName,
      primaryHost: "pg-primary",
      database: options.database,
      barmanPassword: passwords.barman,
      streamingPassword: passwords.streaming,
      recoveryVolume,
      startupTimeoutMs: settings.budgetsMs.containerStart,
      extraServerSettings: options.barmanServerSettings,
      publishSsh: options.publishBarmanSsh,
    })
      .withName(`${prefix}-barman`)
      .start();
    const [primaryStarted, barmanStarted] = await Promise.allSettled([primaryStarting, barmanStarting]);
    if (primaryStarted.status === "rejected" || barmanStarted.status === "rejected") {
      // The one that did start is removed by the run's reaper (labels); say what failed.
      const failed = [primaryStarted, barmanStarted].flatMap((r, i) =>
        r.status === "rejected" ? [`${i === 0 ? "primary" : "Barman server"}: ${(r.reason as Error).message}`] : [],
      );
      throw new Error(`the drill's containers did not start:\n${failed.join("\n")}`);
    }
    const primary = primaryStarted.value;
    const barman = barmanStarted.value;

    progress("creating the barman and streaming_barman roles");
    await createBarmanRoles(primary, passwords);

    const environment = new DrillEnvironment(prefix, run, options.images, settings, network, recoveryVolume, superuser, primary, barman, labels);
    environment.primaryDataVolume = primaryDataVolume;
    environment.primaryLayout = options.primaryLayout ?? "official";
    environment.secrets.push(superuser.password, passwords.barman, passwords.streaming);
    const first = new HostedServer(options.serverName, "pg-primary", options.database, superuser, primary, barman.client);
    environment.servers.set(options.serverName, first);
    await environment.connectWalPaths(first, options.barmanServerSettings, progress);
    return environment;
  }

  /**
   * Another PostgreSQL server on this environment's Barman: its own primary on the environment's
   * network (host name pg-<name>), the barman and streaming_barman roles there, its section and
   * .pgpass lines in the same Barman container, and both WAL paths (archive_command over SSH,
   * streaming on its own replication slot) up to a first archived segment, as start() sets up the
   * first server. Its primary is stopped with the environment.
   */
  async addServer(options: {
    /** Short name, unique in the environment: the primary's container name and host name (pg-<name>). */
    name: string;
    /** Barman's name for the server (its section in /etc/barman.d). */
    serverName: string;
    database: string;
    progress: (line: string) => void;
    /** The primary's image; the environment's PostgreSQL by default. Barman's client tools must be at least its major. */
    postgresImage?: string;
    /** Extra lines for this server's section (e.g. bandwidth_limit). */
    barmanServerSettings?: Record<string, string>;
    /** This primary's postgresql.conf settings (-c name=value). */
    primarySettings?: Record<string, string>;
  }): Promise<HostedServer> {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(options.name)) throw new Error(`'${options.name}' is not a short name for a primary (lower case letters, digits, dashes)`);
    const host = `pg-${options.name}`;
    if (this.servers.has(options.serverName)) throw new Error(`this environment's Barman already has a server named '${options.serverName}'`);
    if (host === "pg-primary" || [...this.servers.values()].some((s) => s.host === host))
      throw new Error(`this environment already has a primary named '${host}'`);
    const { progress } = options;
    const superuser = { user: "postgres", password: secret(), database: options.database };
    const passwords: BarmanRolePasswords = { barman: secret(), streaming: secret() };
    this.secrets.push(superuser.password, passwords.barman, passwords.streaming);
    progress(`${options.serverName}: starting its primary (${host})`);
    const primary = await startPrimary({
      image: options.postgresImage ?? this.images.postgres,
      containerName: `${this.prefix}-${options.name}-primary`,
      network: this.network,
      alias: host,
      labels: this.labels,
      superuser,
      settings: this.settings,
      primarySettings: options.primarySettings,
      barmanServerSettings: options.barmanServerSettings,
    });
    // Held before anything else can fail, so that stop() removes it.
    this.addedPrimaries.push(primary);
    const { major } = await primary.one<{ major: number }>("SELECT current_setting('server_version_num')::int / 10000 AS major");
    const clientMajor = BARMAN_VERSIONS[this.images.platform.barman].clientMajor;
    if (major > clientMajor) {
      throw new Error(
        `${options.serverName}: PostgreSQL ${major} cannot be backed up by this environment's Barman ${this.images.platform.barman}, whose client tools are PostgreSQL ${clientMajor}'s`,
      );
    }
    progress(`${options.serverName}: creating the barman and streaming_barman roles`);
    await createBarmanRoles(primary, passwords);
    const barman = await this.barmanServer.addServer({
      serverName: options.serverName,
      primaryHost: host,
      database: options.database,
      barmanPassword: passwords.barman,
      streamingPassword: passwords.streaming,
      extraServerSettings: options.barmanServerSettings,
    });
    const server = new HostedServer(options.serverName, host, options.database, superuser, primary, barman);
    await this.connectWalPaths(server, options.barmanServerSettings, (line) => progress(`${options.serverName}: ${line}`));
    this.servers.set(options.serverName, server);
    return server;
  }

  /**
   * Both WAL paths of one server, set up together (they are independent): archive_command over
   * SSH, and WAL streaming (barman cron, replication slot) unless streaming_archiver = off; then a
   * first segment switched and waited for in Barman's archive (Barman's check "WAL archive" stays
   * FAILED until one arrives; its docs: switch-wal --archive).
   */
  private async connectWalPaths(
    server: HostedServer,
    barmanServerSettings: Record<string, string> | undefined,
    progress: (line: string) => void,
  ): Promise<void> {
    const streaming = (barmanServerSettings?.["streaming_archiver"] ?? "on") !== "off";
    progress(`archive_command: barman-wal-archive over SSH${streaming ? "; WAL streaming: barman cron, replication slot" : " (streaming_archiver = off)"}`);
    await Promise.all([
      this.enableArchiveCommand(server.serverName, server.primary),
      // A user's Barman may ship WAL by archive_command only (streaming_archiver = off).
      streaming ? server.barman.startWalStreaming(budgetOf(this.settings, "walStreamingReady")) : Promise.resolve(),
    ]);
    if (barmanServerSettings?.["backup_method"] === "rsync") {
      progress("backup_method = rsync: Barman's SSH access to the primary");
      await this.enableRsyncBackups(server.primary, server.host);
    }
    const { closedSegment } = await server.switchWal();
    await server.barman.waitForArchivedSegment(closedSegment, budgetOf(this.settings, "walArchived"));
    progress(`WAL streaming works: segment ${closedSegment} archived`);
  }

  /**
   * A primary's second WAL path, as Barman's documentation sets it up: archive_command =
   * barman-wal-archive, which runs `barman put-wal` over SSH as the barman user. A key pair is made
   * for this run on the primary (the first server's by default) and its public half authorised on
   * the Barman server.
   */
  async enableArchiveCommand(serverName: string, primary: StartedDrillPostgres = this.primary): Promise<void> {
    const primaryId = primary.getId();
    const asPostgres = (script: string): Promise<string> =>
      execIn(primaryId, ["bash", "-c", script], { user: "postgres", where: "the primary" }).then((r) => r.stdout.trim());
    const publicKey = await asPostgres(
      [
        "set -e",
        "install -d -m 0700 ~/.ssh",
        "test -f ~/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -C pgdrill-primary -f ~/.ssh/id_ed25519",
        // The Barman server's host key is new every run: accept it on first use, pin it after.
        // One SSH connection kept open and shared (ControlMaster): each WAL segment then costs
        // barman put-wal alone, not a new SSH handshake (half the time per segment, measured).
        "printf 'Host barman\n  StrictHostKeyChecking accept-new\n  BatchMode yes\n  ControlMaster auto\n  ControlPath ~/.ssh/cm-%%r@%%h-%%p\n  ControlPersist yes\n' > ~/.ssh/config",
        "cat ~/.ssh/id_ed25519.pub",
      ].join("\n"),
    );
    await this.barmanServer.authorizeSshKey(publicKey);
    // barman-wal-archive --test: SSH and `barman put-wal --test` on the other side, no WAL sent.
    await asPostgres(`barman-wal-archive --test barman ${serverName} DUMMY`);
    await primary.query(`ALTER SYSTEM SET archive_command = ${primary.client.escapeLiteral(`barman-wal-archive barman ${serverName} %p`)}`);
    await primary.query("SELECT pg_reload_conf()");
  }

  /**
   * Barman's backup_method = rsync logs in to the primary as postgres (ssh_command) and copies
   * PGDATA with rsync: a key pair for the barman user, its public half authorised on the primary
   * (the first server's by default, reached as `host`).
   */
  async enableRsyncBackups(primary: StartedDrillPostgres = this.primary, host = "pg-primary"): Promise<void> {
    const publicKey = (
      await execIn(
        this.barmanServer.getId(),
        [
          "bash",
          "-c",
          [
            "set -e",
            "install -d -m 0700 ~/.ssh",
            "test -f ~/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -C pgdrill-barman -f ~/.ssh/id_ed25519",
            `printf 'Host ${host}\n  StrictHostKeyChecking accept-new\n  BatchMode yes\n' >> ~/.ssh/config`,
            "cat ~/.ssh/id_ed25519.pub",
          ].join("\n"),
        ],
        { user: "barman", where: "the Barman server" },
      )
    ).stdout.trim();
    await execIn(
      primary.getId(),
      ["bash", "-c", 'install -d -m 0700 ~/.ssh && printf "%s\n" "$1" >> ~/.ssh/authorized_keys && chmod 0600 ~/.ssh/authorized_keys', "authorize", publicKey],
      { user: "postgres", where: "the primary" },
    );
    // The same login Barman will use, so a broken key exchange fails here with ssh's own words.
    await execIn(this.barmanServer.getId(), ["ssh", `postgres@${host}`, "true"], { user: "barman", where: "the Barman server" });
  }

  /** pg_switch_wal() and one commit on the current primary (see switchWalOn for why the commit). */
  async switchWal(): Promise<{ closedSegment: string }> {
    return switchWalOn(this.currentPrimary);
  }

  /** WAL written and the segment switched: the current segment is closed and the next one opened. */
  async nudgeWal(): Promise<void> {
    await this.currentPrimary.query("SELECT txid_current()");
    await this.switchWal();
  }

  private walRestoreKey: Promise<string> | undefined;

  /**
   * A key pair for the recovered instances' barman-wal-restore, made for this run on the Barman
   * server, its public half authorised for the barman user, its private half handed to the
   * instances only (never written to a report).
   */
  private getWalRestoreKey(): Promise<string> {
    this.walRestoreKey ??= (async () => {
      const privateKey = await this.barman.shell(
        [
          "set -e",
          "d=$(mktemp -d); trap 'rm -rf \"$d\"' EXIT",
          'ssh-keygen -q -t ed25519 -N "" -C pgdrill-wal-restore -f "$d/key"',
          "install -d -o barman -g barman -m 0700 ~barman/.ssh",
          'cat "$d/key.pub" >> ~barman/.ssh/authorized_keys; chown barman:barman ~barman/.ssh/authorized_keys; chmod 0600 ~barman/.ssh/authorized_keys',
          'cat "$d/key"',
        ].join("\n"),
        { user: "root" },
      );
      this.secrets.push(privateKey);
      return `${privateKey}\n`;
    })();
    return this.walRestoreKey;
  }

  async startRecoveredInstance(
    directory: string,
    options: { walFromBarman?: boolean; asNewPrimary?: { settings: Record<string, string> } } = {},
  ): Promise<StartedRecoveredInstance> {
    // A new primary archives into Barman with barman-wal-archive: the same SSH access as barman-wal-restore.
    const sshIdentity = options.walFromBarman || options.asNewPrimary ? { privateKey: await this.getWalRestoreKey() } : undefined;
    const instance = await new RecoveredInstanceContainer({
      sshIdentity,
      asNewPrimary: options.asNewPrimary,
      image: this.images.postgres,
      labels: this.labels,
      source: { kind: "volume", volume: this.recoveryVolume, directory, layout: this.primaryLayout },
      access: { kind: "network", network: this.network, alias: `pg-recovered-${directory}`, superuser: this.superuser },
      startupTimeoutMs: this.settings.budgetsMs.recoveredInstancePromoted,
      statementTimeoutMs: this.settings.budgetsMs.sqlStatement,
    })
      .withName(`${this.prefix}-recovered-${directory}`)
      .start();
    this.recovered.set(directory, instance);
    return instance;
  }

  async stopRecoveredInstance(directory: string): Promise<void> {
    const started = this.recovered.get(directory);
    if (!started) return;
    await started.stop();
    this.recovered.delete(directory);
  }

  /** Names of this environment's recovered-instance containers that Docker still has (running or not). */
  async leftoverRecoveredInstances(): Promise<string[]> {
    const containers = await docker().listContainers({ all: true, filters: { name: [`${this.prefix}-recovered-`] } });
    return containers.map((c) => c.Names[0]?.replace(/^\//, "") ?? c.Id);
  }

  async containerExists(id: string): Promise<boolean> {
    return existsUnless404(docker().getContainer(id).inspect());
  }

  /** Replaces every secret of the run in `text`, so reports and logs never carry one. */
  mask(text: string): string {
    return this.secrets.reduce((t, s) => t.replaceAll(s, "******"), text);
  }

  /**
   * Removes what this environment started, all containers at once and killed (throwaways: a polite
   * shutdown would only wait for the primary's archive_command to give up on a stopped Barman).
   * Resources left by a crash are reaped by label.
   */
  async stop(): Promise<void> {
    await Promise.all([
      ...[...this.recovered.keys()].map((directory) => this.stopRecoveredInstance(directory).catch(() => undefined)),
      this.barmanServer.stop().catch(() => undefined),
      ...[this.primary, ...this.addedPrimaries].map((p) => p.stop().catch(() => undefined)),
      ...this.companions.map((c) => c.stop().catch(() => undefined)),
    ]);
    for (const volume of [this.recoveryVolume, this.primaryDataVolume].filter((v) => v !== undefined)) {
      await docker()
        .getVolume(volume)
        .remove({ force: true })
        .catch(() => undefined);
    }
    await docker()
      .getNetwork(this.network)
      .remove()
      .catch(() => undefined);
  }
}
