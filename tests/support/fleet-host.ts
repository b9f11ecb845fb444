// "The existing backup host" of a fleet verification: one Barman container reached only over SSH
// (sshd published on 127.0.0.1), backing up two PostgreSQL servers with their primaries:
// sales-pg15 (PostgreSQL 15) and billing-pg17 (PostgreSQL 17, track_commit_timestamp = on). Each
// holds a small dataset of its own, one DONE backup, and WAL archived after the backup (more
// committed rows: what a replay of the whole archive must bring back). damageBackup() breaks one
// server's newest backup on disk, as a storage fault would. The datasets are small unless a caller
// asks for more rows at the backup (bench/nightly-bench.ts loads millions).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SshTarget } from "../../containers/barman/ssh-transport.ts";
import { ensureImages } from "../../containers/images.ts";
import type { Platform } from "../../containers/platforms.ts";
import type { DrillSettings } from "../../src/config.ts";
import { DrillEnvironment, type DrillRun, type HostedServer } from "../../src/engine/topology.ts";
import { monotonicNow, seconds } from "../../src/metrics.ts";
import { withProgress } from "../../src/wait.ts";
import { truncateBackupFile } from "./faults.ts";
import { sshAccess } from "./ssh-access.ts";

export type FleetServerName = "sales-pg15" | "billing-pg17";

/** One server's dataset: a table, loaded before the backup and grown after it. SQL with $1 for the row count. */
interface Dataset {
  database: string;
  table: string;
  create: string;
  insert: string;
  rowsBeforeBackup: number;
  rowsAfterBackup: number;
}

const FLEET: Record<FleetServerName, { platform: Platform; name: string; primarySettings: Record<string, string>; dataset: Dataset }> = {
  "sales-pg15": {
    platform: { postgres: "15", barman: "3.13" },
    name: "sales",
    primarySettings: {},
    dataset: {
      database: "sales",
      table: "sales_orders",
      create:
        "CREATE TABLE sales_orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer text NOT NULL, amount numeric(10,2) NOT NULL, ordered_at timestamptz NOT NULL DEFAULT now())",
      insert: "INSERT INTO sales_orders (customer, amount) SELECT 'customer-' || (g % 97), g * 1.25 FROM generate_series(1, $1::int) AS g",
      rowsBeforeBackup: 3000,
      rowsAfterBackup: 120,
    },
  },
  "billing-pg17": {
    // The same Barman 3.13 (its PostgreSQL 17 client tools back up both servers); the primary is 17.
    platform: { postgres: "17", barman: "3.13" },
    name: "billing",
    // pg_last_committed_xact() answers on this server only: the freshness check has one of each.
    primarySettings: { track_commit_timestamp: "on" },
    dataset: {
      database: "billing",
      table: "invoices",
      create:
        "CREATE TABLE invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account text NOT NULL, total numeric(12,2) NOT NULL, issued_at timestamptz NOT NULL DEFAULT now())",
      insert: "INSERT INTO invoices (account, total) SELECT 'account-' || (g % 53), g * 3.40 FROM generate_series(1, $1::int) AS g",
      rowsBeforeBackup: 2000,
      rowsAfterBackup: 75,
    },
  },
};

export interface FleetServer {
  serverName: FleetServerName;
  /** PostgreSQL major version of the primary, and so of its backups. */
  major: 15 | 17;
  /** The primary (for SQL) and the Barman client of this server (docker exec: for the test's own set-up and checks). */
  hosted: HostedServer;
  database: string;
  table: string;
  /** Counts the table's rows; on a recovered copy it gives one of `rows`. */
  countSql: string;
  /** The backup taken for the fixture (DONE). */
  backupId: string;
  /** Rows as the primary counted them: at the backup, and at the end of the WAL archived after it (what a full replay must give). */
  rows: { atBackup: number; atEndOfArchive: number };
  /** The WAL segment holding the rows after the backup, in Barman's archive. */
  lastArchivedSegment: string;
  /** track_commit_timestamp = on on the primary (pg_last_committed_xact() answers). */
  commitTimestamps: boolean;
}

export interface TwoServerBarmanHostOptions {
  /** Rows of each server's table at its backup (one INSERT ... SELECT generate_series); default 3000 (sales-pg15) and 2000 (billing-pg17). */
  rowsBeforeBackup?: Partial<Record<FleetServerName, number>>;
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MiB`;

export interface TwoServerBarmanHost {
  env: DrillEnvironment;
  /** The test's SSH access to the Barman host: barman@127.0.0.1, the published port, a key made for the test, known_hosts pinned. */
  ssh: SshTarget;
  servers: Record<FleetServerName, FleetServer>;
  /** Cuts a data file of the server's newest DONE backup short on Barman's disk; barman verify-backup then fails. */
  damageBackup(serverName: FleetServerName): Promise<{ backupId: string; file: string }>;
  /** How long each part of the start took, measured. */
  timingsMs: { environment: number; billingServer: number; salesData: number; billingData: number; sshAccess: number; total: number };
  /** env.stop() and the test's key directory removed. */
  stop(): Promise<void>;
}

/**
 * Loads the dataset, takes one backup, then commits more rows and waits until the WAL segment
 * holding them is in Barman's archive. The backup is `barman backup --wait` with the WAL nudge of
 * src/engine/phases.ts backUp(): Barman 3.13 may wait for the next segment after the backup's end,
 * which an idle primary never fills.
 */
async function prepareServer(
  server: HostedServer,
  entry: (typeof FLEET)[FleetServerName],
  rowsBeforeBackup: number,
  settings: DrillSettings,
  progress: (line: string) => void,
): Promise<Omit<FleetServer, "hosted" | "serverName" | "major" | "commitTimestamps">> {
  const { dataset } = entry;
  const who = server.serverName;
  const countSql = `SELECT count(*)::int AS rows FROM ${dataset.table}`;
  const count = async (): Promise<number> => (await server.primary.one<{ rows: number }>(countSql)).rows;
  // In postgresql.auto.conf as well as on the command line: the backup, and so the recovered copy, keeps commit timestamps.
  for (const [name, value] of Object.entries(entry.primarySettings))
    await server.primary.query(`ALTER SYSTEM SET ${name} = ${server.primary.client.escapeLiteral(value)}`);
  await server.primary.query(dataset.create);
  const loadStarted = monotonicNow();
  await withProgress(progress, `${who}: loading ${rowsBeforeBackup} ${dataset.table} rows`, () => server.primary.query(dataset.insert, [rowsBeforeBackup]));
  const atBackup = await count();
  const { bytes } = await server.primary.one<{ bytes: number }>("SELECT pg_database_size(current_database())::float8 AS bytes");
  progress(`${who}: ${atBackup} ${dataset.table} rows loaded in ${seconds(monotonicNow() - loadStarted)}; database ${mib(bytes)}, backing it up`);
  let nudged: Promise<unknown> | undefined;
  const backupStarted = monotonicNow();
  // Barman's default layout (barman_home/<server>/base): the backup's files as they arrive.
  const copied = async (): Promise<string> => `${mib(Number(await server.barman.shell(`du -sb /var/lib/barman/${who}/base | cut -f1`)))} copied`;
  const { backupId } = await withProgress(
    progress,
    `${who}: barman backup`,
    () =>
      server.barman.backup({
        budgetMs: settings.budgetsMs.backup,
        onLine: (line) => {
          if (!nudged && /Waiting for the WAL file/.test(line)) nudged = server.nudgeWal().catch(() => undefined);
        },
      }),
    copied,
  );
  await nudged;
  progress(`${who}: backup ${backupId} taken with ${atBackup} ${dataset.table} rows in ${seconds(monotonicNow() - backupStarted)}`);
  await server.primary.query(dataset.insert, [dataset.rowsAfterBackup]);
  const atEndOfArchive = await count();
  const { closedSegment } = await server.switchWal();
  await server.barman.waitForArchivedSegment(closedSegment, settings.budgetsMs.walArchived);
  progress(`${server.serverName}: ${atEndOfArchive} ${dataset.table} rows archived through ${closedSegment}`);
  return {
    database: dataset.database,
    table: dataset.table,
    countSql,
    backupId,
    rows: { atBackup, atEndOfArchive },
    lastArchivedSegment: closedSegment,
  };
}

export async function startTwoServerBarmanHost(
  run: DrillRun,
  settings: DrillSettings,
  progress: (line: string) => void,
  options: TwoServerBarmanHostOptions = {},
): Promise<TwoServerBarmanHost> {
  const started = monotonicNow();
  const since = (t: number): number => monotonicNow() - t;
  const sales = FLEET["sales-pg15"];
  const billing = FLEET["billing-pg17"];
  const rowsOf = (server: FleetServerName): number => options.rowsBeforeBackup?.[server] ?? FLEET[server].dataset.rowsBeforeBackup;
  for (const [server, rows] of Object.entries(options.rowsBeforeBackup ?? {}))
    if (!Number.isInteger(rows) || rows < 1) throw new Error(`rowsBeforeBackup of ${server} must be a whole number >= 1, got ${rows}`);
  const salesImages = (await ensureImages({ platform: sales.platform, baseOverride: settings.baseImage, progress })).images;
  // The PostgreSQL 17 image is built on first use while the environment starts.
  const billingImages = ensureImages({ platform: billing.platform, baseOverride: settings.baseImage, progress }).then((r) => r.images);
  billingImages.catch(() => undefined);

  const env = await DrillEnvironment.start({
    images: salesImages,
    name: "fleet",
    run,
    settings,
    serverName: "sales-pg15",
    database: sales.dataset.database,
    primarySettings: sales.primarySettings,
    publishBarmanSsh: true,
    progress: (line) => progress(`sales-pg15: ${line}`),
  });
  const environmentMs = since(started);
  let keys: string | undefined;
  const stop = async (): Promise<void> => {
    await env.stop();
    if (keys) await rm(keys, { recursive: true, force: true });
  };
  try {
    const salesServer = env.servers.get("sales-pg15")!;
    const timed = async <T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> => {
      const t = monotonicNow();
      return { value: await work(), ms: since(t) };
    };
    const [salesData, billingServer] = await Promise.all([
      timed(() => prepareServer(salesServer, sales, rowsOf("sales-pg15"), settings, progress)),
      timed(async () =>
        env.addServer({
          name: billing.name,
          serverName: "billing-pg17",
          database: billing.dataset.database,
          postgresImage: (await billingImages).postgres,
          primarySettings: billing.primarySettings,
          progress,
        }),
      ),
    ]);
    const billingData = await timed(() => prepareServer(billingServer.value, billing, rowsOf("billing-pg17"), settings, progress));
    const sshStarted = monotonicNow();
    keys = await mkdtemp(join(tmpdir(), "pgdrill-fleet-"));
    const ssh = await sshAccess(env, keys);
    const sshMs = since(sshStarted);

    const servers: Record<FleetServerName, FleetServer> = {
      "sales-pg15": { serverName: "sales-pg15", major: 15, hosted: salesServer, commitTimestamps: false, ...salesData.value },
      "billing-pg17": { serverName: "billing-pg17", major: 17, hosted: billingServer.value, commitTimestamps: true, ...billingData.value },
    };
    return {
      env,
      ssh,
      servers,
      async damageBackup(serverName) {
        const { hosted, table } = servers[serverName];
        const done = (await hosted.barman.listBackups()).filter((b) => b.status === "DONE").map((b) => b.backupId);
        // Barman's backup ids are timestamps (YYYYMMDDTHHMMSS): the greatest is the newest.
        const backupId = done.sort().at(-1);
        if (!backupId) throw new Error(`${serverName} has no DONE backup to damage`);
        const { path } = await hosted.primary.one<{ path: string }>("SELECT pg_relation_filepath($1::regclass) AS path", [table]);
        const file = await truncateBackupFile(hosted.barman, backupId, path);
        progress(`${serverName}: backup ${backupId} damaged (${file} cut to one page)`);
        return { backupId, file };
      },
      timingsMs: {
        environment: environmentMs,
        billingServer: billingServer.ms,
        salesData: salesData.ms,
        billingData: billingData.ms,
        sshAccess: sshMs,
        total: since(started),
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
