// The nightly verification's command line (`npm run verify:existing -- …`, scripts/verify-existing.ts)
// as pure functions: the usage text, the options and their checks, and what a configuration makes of
// them (which servers, which checks). Every problem is collected, one sentence each, before anything
// starts; the script only reads files, talks to the engine and writes the outputs.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { assertTimeHasOffset, type RecoveryTarget } from "../barman/recovery-target.ts";
import type { DrillConfig } from "../drill/drill-config.ts";
import { parseDurationS, parseShard, planFromConfig } from "../nightly/fleet.ts";
import { validateRemoteSshCommand } from "../nightly/nightly-result.ts";
import { DEFAULT_WORK_PARENT } from "../nightly/work-directories.ts";

/** Two servers at once: each holds a restored copy on the Barman host and a throwaway instance here. */
export const DEFAULT_CONCURRENCY = 2;

export const VERIFY_HELP = `Usage: pgdrill verify (--barman-container NAME | --barman-ssh USER@HOST) (--server NAME | --servers A,B | --all-servers) [options]
       (in a clone of the repository: npm run verify:existing -- <the same options>)

Verifies backups of an EXISTING Barman server without touching the production database, for each
server: barman verify-backup, barman recover into a temporary directory on the Barman server
(removed afterwards) replaying every archived WAL segment after the backup (the default; proves the
WAL stream too), the recovered data directory streamed into a throwaway PostgreSQL container with
no network, the config's nightly checks run there, freshness and the RTO phases measured.

Options:
  --barman-container NAME  container (name or id) of the Barman server, reached with docker exec
  --barman-ssh USER@HOST   the Barman host, reached with the OpenSSH client as USER (your ~/.ssh/config,
                           agent, ProxyJump and known_hosts apply; an unknown or changed host key is refused)
  --ssh-port N             SSH port (default: ssh's, from ~/.ssh/config or 22)
  --ssh-identity FILE      private key file for --barman-ssh (used alone)
  --ssh-known-hosts FILE   known_hosts file for --barman-ssh instead of ~/.ssh/known_hosts
  --server NAME            Barman's name for the PostgreSQL server (default: the config's barman.serverName)
  --servers A,B            these servers of the Barman host, each its own result
  --all-servers            every server \`barman list-servers\` lists, each its own result
  --concurrency N          servers verified at the same time (default 2; each needs one restored copy of room)
  --shard I/N              verify the I-th of N slices of the servers (sorted by name), as Vitest's --shard:
                           N runners with --shard 1/N .. N/N verify every server exactly once
  --backup latest|ID       backup to verify (default latest: the newest DONE backup)
  --target-immediate       recover to the end of the backup only: quicker, proves the base backup but not the WAL
                           (default without a target: every archived WAL segment after the backup)
  --target-time T          recover to a time with UTC offset, e.g. "2026-11-25 08:29:31+00"
  --target-name N          recover to a restore point
  --target-xid X           recover to a transaction id
  --target-lsn L           recover to an LSN, e.g. 0/3000060
  --exclusive              with --target-xid/--target-lsn: stop just before the target
  --database DB            database the checks run in (default: the config's database)
  --db-user U              role the checks run as (default postgres; local trust, no password)
  --config PATH            drill config with nightly.checks (default: PGDRILL_CONFIG; with neither, only the
                           built-in checks run: pg_amcheck, pg_dump of every database, pg_checksums)
  --barman-work-dir DIR    parent of the temporary directory on the Barman server, or on the verification host
                           (default ${DEFAULT_WORK_PARENT}); it needs room for one full copy of the recovered data directory
  --verification-host USER@HOST  restore there instead of on the Barman server (barman restore --remote-ssh-command),
                           reached by this command over SSH (--ssh-identity and --ssh-known-hosts apply to it too)
  --verification-host-port N  SSH port of the verification host for this command
  --remote-ssh-command CMD how the Barman host reaches the verification host, Barman's own option,
                           e.g. "ssh postgres@verify-host" (with --verification-host)
  --amcheck                pg_amcheck --heapallindexed over every database of each recovered copy (also nightly.amcheck)
  --pg-dump                a full pg_dump of every database to nowhere: every row read once (also nightly.pgDump)
  --max-backup-age D       fail a server whose verified backup is older than D (26h, 90m, 2d, 3600; also
                           nightly.freshness.maxBackupAgeS)
  --max-wal-age D          fail a server whose newest archived WAL segment is older than D (maxWalAgeS)
  --max-recovery-point-age D  fail a server whose newest recovered commit is older than D (maxRecoveryPointAgeS)
  --report PATH            JSON report (default reports/nightly-verification.json)
  --junit PATH             JUnit XML, one test case per server (default reports/nightly-junit.xml)
  --allure-results DIR     Allure results, one test per server (default reports/allure-results; npm run report)
  --prometheus-textfile PATH  metrics for node_exporter's textfile collector, written atomically
  --pushgateway URL        push the metrics to a Prometheus Pushgateway (a failed night keeps the last success)
  --help                   this text

Transport: docker exec into a containerised Barman server, or SSH to a Barman host; the restore
goes into a temporary directory there (removed afterwards) and streams back over the same path.
Time budgets: PGDRILL_BUDGET_RECOVER_S bounds every command on the Barman server,
PGDRILL_BUDGET_RECOVERED_INSTANCE_PROMOTED_S the instance start, PGDRILL_BUDGET_SQL_STATEMENT_S each check.
The throwaway instance runs the backup's PostgreSQL major version (from Barman's metadata): this
suite's image for 15, 17 or 18 (built on first use), or PGDRILL_RECOVERY_IMAGE, any image that
honours the official postgres image's contract (e.g. postgres:16 where a registry is reachable).
Exit codes: 0 every server verified, 1 a verification failed (summary says why), 2 wrong arguments or configuration,
128+N interrupted by signal N (Ctrl-C: stops after the current step and cleans up; twice: at once).`;

const parsesAs = (parse: () => unknown): boolean => {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
};
const duration = z.string().refine((v) => parsesAs(() => parseDurationS(v)), { message: "must be a duration such as 26h, 90m, 1h30m, 2d or 3600 (seconds)" });
const sshDestination = z
  .string()
  .regex(/^([A-Za-z0-9._-]+@)?[A-Za-z0-9._:-]+$/, { message: "must be an SSH destination such as barman@backup-host" })
  .refine((d) => !d.startsWith("-"), { message: "must be an SSH destination such as barman@backup-host" });
const port = z
  .string()
  .regex(/^\d{1,5}$/, { message: "must be a port number" })
  .refine((p) => Number(p) >= 1 && Number(p) <= 65535, { message: "must be a port number (1-65535)" });
const BOOLEAN_OPTIONS = new Set(["exclusive", "help", "all-servers", "target-immediate", "amcheck", "pg-dump"]);
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: "must be a name of letters, digits, '.', '_' and '-'" });
const argsSchema = z
  .object({
    "barman-container": name.optional(),
    "barman-ssh": sshDestination.optional(),
    "ssh-port": port.optional(),
    "ssh-identity": z
      .string()
      .regex(/^[^\s'"-][^\s'"]*$/, { message: "must be a file path without spaces or quotes" })
      .optional(),
    "ssh-known-hosts": z
      .string()
      .regex(/^[^\s'"-][^\s'"]*$/, { message: "must be a file path without spaces or quotes" })
      .optional(),
    server: name.optional(),
    backup: z
      .string()
      .regex(/^(latest|\d{8}T\d{6})$/, { message: "must be latest or a Barman backup id such as 20261125T082625" })
      .default("latest"),
    "target-time": z
      .string()
      .refine(
        (t) => {
          try {
            assertTimeHasOffset(t);
            return true;
          } catch {
            return false;
          }
        },
        { message: "must be a timestamp with a UTC offset, e.g. 2026-11-25 08:29:31+00" },
      )
      .optional(),
    "target-name": z.string().min(1, { message: "must not be empty" }).optional(),
    "target-xid": z
      .string()
      .regex(/^[1-9]\d*$/, { message: "must be a transaction id (a positive whole number)" })
      .optional(),
    "target-lsn": z
      .string()
      .regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, { message: "must be an LSN such as 0/3000060" })
      .optional(),
    exclusive: z.boolean().optional(),
    servers: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*(,[A-Za-z0-9][A-Za-z0-9_.-]*)*$/, { message: "must be Barman server names separated by commas" })
      .optional(),
    "all-servers": z.boolean().optional(),
    concurrency: z
      .string()
      .regex(/^[1-9]\d{0,2}$/, { message: "must be a whole number from 1" })
      .optional(),
    shard: z
      .string()
      .refine((v) => parsesAs(() => parseShard(v)), { message: "must be I/N such as 1/3, with 1 <= I <= N" })
      .optional(),
    "target-immediate": z.boolean().optional(),
    amcheck: z.boolean().optional(),
    "pg-dump": z.boolean().optional(),
    "max-backup-age": duration.optional(),
    "max-wal-age": duration.optional(),
    "max-recovery-point-age": duration.optional(),
    junit: z.string().min(1).optional(),
    "allure-results": z.string().min(1).optional(),
    "prometheus-textfile": z.string().min(1).optional(),
    pushgateway: z
      .string()
      .refine((v) => parsesAs(() => new URL(v)) && /^https?:$/.test(new URL(v).protocol), { message: "must be an http(s) URL such as http://pushgateway:9091" })
      .optional(),
    // psql reads a -d value with '=' or a URI as a connection string: never let a check reach another server.
    database: z
      .string()
      .regex(/^[^=\s/:][^=]*$/, { message: "must be a database name (no '=', no URI)" })
      .optional(),
    "db-user": z
      .string()
      .regex(/^[^=\s][^=]*$/, { message: "must be a role name" })
      .optional(),
    config: z.string().min(1).optional(),
    "barman-work-dir": z
      .string()
      .regex(/^\/[A-Za-z0-9_./-]*$/, { message: "must be an absolute path" })
      .refine((p) => !p.includes(".."), { message: "must not contain .." })
      .optional(),
    report: z.string().min(1).optional(),
    "verification-host": sshDestination.optional(),
    "verification-host-port": port.optional(),
    "remote-ssh-command": z
      .string()
      .refine((c) => validateRemoteSshCommand(c) === undefined, { message: 'must be an SSH command such as "ssh postgres@verify-host"' })
      .optional(),
    help: z.boolean().optional(),
  })
  .strict();
export type VerifyArgs = z.infer<typeof argsSchema>;

const options = Object.fromEntries(Object.keys(argsSchema.shape).map((key) => [key, { type: BOOLEAN_OPTIONS.has(key) ? "boolean" : "string" }])) as Record<
  keyof VerifyArgs,
  { type: "string" | "boolean" }
>;

/** The command line read and checked: the options and the recovery target, or every problem found (exit 2). */
export function parseVerifyCommandLine(argv: string[]): { args: VerifyArgs; target: RecoveryTarget } | { problems: string[] } {
  // Not strict: an unknown option or a missing value is collected below with every other problem
  // instead of stopping at the first.
  const { values: raw, positionals } = parseArgs({ args: argv, options, strict: false, allowPositionals: true });
  const problems: string[] = positionals.map((p) => `unexpected argument '${p}' (every value follows its option, e.g. --server NAME)`);
  const parsed = argsSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === "unrecognized_keys") problems.push(...issue.keys.map((k) => `unknown option --${k}`));
      else if (raw[String(issue.path[0])] === true) problems.push(`--${String(issue.path[0])} needs a value`);
      else problems.push(`--${issue.path.join(".")}: ${issue.message}`);
    }
  }
  if (!parsed.success || problems.length > 0) return { problems };
  const args = parsed.data;
  if (args.help) return { args, target: { kind: "immediate" } };
  if (!args["barman-container"] && !args["barman-ssh"])
    problems.push("--barman-container or --barman-ssh is required (the Barman server's container, or USER@HOST of the Barman host)");
  if (args["barman-container"] && args["barman-ssh"]) problems.push("give either --barman-container or --barman-ssh, not both");
  if (args["ssh-port"] !== undefined && !args["barman-ssh"]) problems.push("--ssh-port only goes with --barman-ssh");
  for (const option of ["ssh-identity", "ssh-known-hosts"] as const) {
    if (args[option] !== undefined && !args["barman-ssh"] && !args["verification-host"])
      problems.push(`--${option} only goes with --barman-ssh or --verification-host`);
  }
  if (Boolean(args["verification-host"]) !== Boolean(args["remote-ssh-command"]))
    problems.push("--verification-host and --remote-ssh-command go together: how this command reaches the verification host, and how the Barman host does");
  if (args["verification-host-port"] !== undefined && !args["verification-host"]) problems.push("--verification-host-port only goes with --verification-host");
  for (const option of ["ssh-identity", "ssh-known-hosts"] as const) {
    if (args[option] !== undefined && !existsSync(resolve(args[option]))) problems.push(`--${option} ${args[option]}: no such file`);
  }
  const targets: string[] = (["target-time", "target-name", "target-xid", "target-lsn", "target-immediate"] as const).filter((k) => args[k] !== undefined);
  if (targets.length > 1) problems.push(`give at most one recovery target, not ${targets.map((t) => `--${t}`).join(" and ")}`);
  if (args.exclusive && !args["target-xid"] && !args["target-lsn"]) problems.push("--exclusive only goes with --target-xid or --target-lsn");
  const selections = (["server", "servers", "all-servers"] as const).filter((k) => args[k] !== undefined);
  if (selections.length > 1) problems.push(`give one of --server, --servers and --all-servers, not ${selections.map((k) => `--${k}`).join(" and ")}`);
  if (problems.length > 0) return { problems };
  const exclusive = args.exclusive ?? false;
  const target: RecoveryTarget = args["target-time"]
    ? { kind: "time", time: args["target-time"] }
    : args["target-name"]
      ? { kind: "name", name: args["target-name"] }
      : args["target-xid"]
        ? { kind: "xid", xid: Number(args["target-xid"]), exclusive }
        : args["target-lsn"]
          ? { kind: "lsn", lsn: args["target-lsn"], exclusive }
          : args["target-immediate"]
            ? { kind: "immediate" }
            : { kind: "latest" };
  return { args, target };
}

/** What the servers to verify and the per-server plan overrides are, given the configuration (or none). */
export interface VerifySelection {
  servers: "all" | string[];
  overrides: Parameters<typeof planFromConfig>[2];
  /** Problems the configuration and the options make together (exit 2), one sentence each. */
  problems: string[];
}

/**
 * Which servers, and what the options change in each server's plan. `configNamed`: the user named a
 * configuration (--config or PGDRILL_CONFIG); without one only the built-in checks run, over every
 * database. Named servers are planned now, so a wrong configuration is refused before anything runs;
 * with --all-servers a server without checks is that server's red result.
 */
export function selectServers(args: VerifyArgs, config: DrillConfig, configPath: string, configNamed: boolean): VerifySelection {
  const single = args.server ?? (args.servers || args["all-servers"] ? undefined : config.barman?.serverName);
  const servers: "all" | string[] = args["all-servers"] ? "all" : args.servers ? args.servers.split(",") : single ? [single] : [];
  const overrides = {
    // Without a configuration: the maintenance database, and the built-in checks over every database.
    database: args.database ?? (configNamed ? undefined : "postgres"),
    amcheck: args.amcheck ?? !configNamed,
    pgDump: args["pg-dump"] ?? !configNamed,
    freshness: {
      ...(args["max-backup-age"] ? { maxBackupAgeS: parseDurationS(args["max-backup-age"]) } : {}),
      ...(args["max-wal-age"] ? { maxWalAgeS: parseDurationS(args["max-wal-age"]) } : {}),
      ...(args["max-recovery-point-age"] ? { maxRecoveryPointAgeS: parseDurationS(args["max-recovery-point-age"]) } : {}),
    },
  };
  const problems: string[] = [];
  if (servers !== "all" && servers.length === 0)
    problems.push("--server, --servers or --all-servers is required (or set config.barman.serverName): Barman's name for the PostgreSQL server");
  if (configNamed && !config.nightly)
    problems.push(
      `${configPath}: config.nightly is not set; give the checks to run on the recovered backup, e.g. nightly: { checks: [{ name: "orders", sql: "SELECT count(*) FROM orders", expected: [[60004]] }] }`,
    );
  if (config.nightly && servers !== "all")
    for (const server of servers) {
      const plan = planFromConfig(config, server, overrides);
      if (typeof plan === "string") problems.push(`${configPath}: ${plan}`);
    }
  return { servers, overrides, problems };
}
