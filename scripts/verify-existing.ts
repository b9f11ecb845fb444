// Nightly verification of an existing Barman server (src/nightly/verify-existing.ts) as a command a
// scheduler runs: exit 0 when the backup restored and every check passed, 1 when it did not, 2
// when the command itself was wrong (arguments, configuration, a container or server that does
// not exist). The summary goes to stdout, progress to stderr, the details to a JSON report.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { z } from "zod";
import type { SshTarget } from "../containers/barman/ssh-transport.ts";
import { assertEngineAnswers, DockerEngineUnavailableError, reap, runLabels } from "../containers/docker-resources.ts";
import { readSettings, SettingsError } from "../src/config.ts";
import { applyConfigToSettings, DrillConfigError, loadDrillConfig } from "../src/drill-config.ts";
import { parseDurationS, parseShard, planFromConfig, verifyFleet } from "../src/nightly/fleet.ts";
import { renderFleetJunit, writeFleetAllureResults } from "../src/nightly/fleet-outputs.ts";
import type { FleetReport } from "../src/nightly/fleet-report.ts";
import { pushToPushgateway, writeNightlyTextfile } from "../src/nightly/prometheus.ts";
import { recoveryImageResolver } from "../src/nightly/recovery-image.ts";
import {
  type BarmanEndpoint,
  DEFAULT_WORK_PARENT,
  NightlyInputError,
  removeLeftoverWorkDirectories,
  renderNightlySummary,
  type VerificationHost,
  validateRemoteSshCommand,
} from "../src/nightly/verify-existing.ts";
import { assertTimeHasOffset, type RecoveryTarget } from "../src/recovery-target.ts";

// Testcontainers' Ryuk reaper image cannot be pulled here (as in vitest.config.ts): this command
// removes what it starts itself. Read when the first container starts, so setting it here is in time.
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";

const DEFAULT_REPORT = fileURLToPath(new URL("../reports/nightly-verification.json", import.meta.url));
const DEFAULT_JUNIT = fileURLToPath(new URL("../reports/nightly-junit.xml", import.meta.url));
const DEFAULT_ALLURE_RESULTS = fileURLToPath(new URL("../reports/allure-results", import.meta.url));
/** Two servers at once: each holds a restored copy on the Barman host and a throwaway instance here. */
const DEFAULT_CONCURRENCY = 2;

const HELP = `Usage: node --experimental-transform-types --disable-warning=ExperimentalWarning scripts/verify-existing.ts \\
         (--barman-container NAME | --barman-ssh USER@HOST) (--server NAME | --servers A,B | --all-servers) [options]

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
type Args = z.infer<typeof argsSchema>;

const options = Object.fromEntries(Object.keys(argsSchema.shape).map((key) => [key, { type: BOOLEAN_OPTIONS.has(key) ? "boolean" : "string" }])) as Record<
  keyof Args,
  { type: "string" | "boolean" }
>;

function say(line: string): void {
  process.stderr.write(`[nightly] ${line}\n`);
}

async function finish(code: number, stdout = ""): Promise<never> {
  if (stdout) await new Promise<void>((done) => process.stdout.write(`${stdout}\n`, () => done()));
  process.exit(code);
}

/** One line per problem, then exit 2: nothing has been started yet. */
async function refuse(problems: string[]): Promise<never> {
  for (const p of problems) process.stderr.write(`error: ${p}\n`);
  process.stderr.write("Run with --help for the usage.\n");
  return finish(2);
}

function parseCommandLine(argv: string[]): { args: Args; target: RecoveryTarget } | { problems: string[] } {
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

const commandLine = parseCommandLine(process.argv.slice(2));
if ("problems" in commandLine) await refuse(commandLine.problems);
const { args, target } = commandLine as { args: Args; target: RecoveryTarget };
if (args.help) await finish(0, HELP);

// loadDrillConfig names PGDRILL_CONFIG for a missing file; here the path came from --config.
if (args.config && !existsSync(resolve(args.config))) await refuse([`--config ${args.config}: no such file`]);
/**
 * Only a configuration the user named (--config or PGDRILL_CONFIG) is read: this checkout's own
 * pgdrill.config.ts describes the drill's demo database, and its checks on a user's servers would
 * fail for the wrong reason. Without one, the built-in checks run over every database.
 */
const configNamed = Boolean(args.config ?? process.env["PGDRILL_CONFIG"]);
let loaded: Awaited<ReturnType<typeof loadDrillConfig>> | undefined;
let settings: ReturnType<typeof readSettings> | undefined;
try {
  loaded = configNamed ? await loadDrillConfig({ path: args.config }) : { config: { name: "built-in checks only" }, path: "(none: built-in checks only)" };
  settings = applyConfigToSettings(readSettings(), loaded.config);
} catch (error) {
  if (error instanceof DrillConfigError || error instanceof SettingsError)
    await refuse(error.problems.map((p) => (error instanceof DrillConfigError ? `${error.source}: ${p}` : p)));
  throw error;
}
const { config, path: configPath } = loaded!;
if (!configNamed)
  say(
    "no --config: only the built-in checks run on each copy (pg_amcheck --heapallindexed, pg_dump of every database, pg_checksums where data checksums are on); give --config with nightly.checks to check your own data",
  );
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
const configProblems: string[] = [];
if (servers !== "all" && servers.length === 0)
  configProblems.push("--server, --servers or --all-servers is required (or set config.barman.serverName): Barman's name for the PostgreSQL server");
if (configNamed && !config.nightly)
  configProblems.push(
    `${configPath}: config.nightly is not set; give the checks to run on the recovered backup, e.g. nightly: { checks: [{ name: "orders", sql: "SELECT count(*) FROM orders", expected: [[60004]] }] }`,
  );
// Named servers are checked now: a wrong configuration is refused before anything runs. With
// --all-servers, a server without checks is that server's red result.
if (config.nightly && servers !== "all")
  for (const server of servers) {
    const plan = planFromConfig(config, server, overrides);
    if (typeof plan === "string") configProblems.push(`${configPath}: ${plan}`);
  }
if (configProblems.length > 0) await refuse(configProblems);

try {
  await assertEngineAnswers();
} catch (error) {
  if (error instanceof DockerEngineUnavailableError) await refuse([error.message]);
  throw error;
}

// Same run id shape and labels as a drill: `npm run clean:docker` and a later run reap leftovers.
const runId = `${new Date().toISOString().slice(0, 10).replaceAll("-", "")}-${randomBytes(3).toString("hex")}`;
const workParent = args["barman-work-dir"] ?? DEFAULT_WORK_PARENT;
/** The Barman host and the verification host share the identity and known_hosts options. */
const sshTarget = (destination: string, port: string | undefined): SshTarget => ({
  destination,
  port: port ? Number(port) : undefined,
  identityFile: args["ssh-identity"] ? resolve(args["ssh-identity"]) : undefined,
  knownHostsFile: args["ssh-known-hosts"] ? resolve(args["ssh-known-hosts"]) : undefined,
});
const endpoint: BarmanEndpoint = args["barman-ssh"] ? { ssh: sshTarget(args["barman-ssh"], args["ssh-port"]) } : { container: args["barman-container"]! };
const verificationHost: VerificationHost | undefined = args["verification-host"]
  ? { ssh: sshTarget(args["verification-host"], args["verification-host-port"]), remoteSshCommand: args["remote-ssh-command"]! }
  : undefined;
const endpointName = args["barman-ssh"] ? `SSH ${args["barman-ssh"]}` : `container ${args["barman-container"]}`;

/** What this command may have left: the throwaway container (by label) and the Barman-side directory. */
async function cleanUp(): Promise<void> {
  await reap({ runId }).catch((error: Error) => say(`could not remove the containers of run ${runId}: ${error.message}`));
  await removeLeftoverWorkDirectories(endpoint, runId, workParent, verificationHost).catch((error: Error) => {
    // No such container: there is nothing of ours on it.
    if (!(error instanceof NightlyInputError)) say(`could not remove ${workParent}/pgdrill-verify-${runId}-* on the Barman server: ${error.message}`);
  });
}
// First signal: stop at the next phase boundary and clean up as usual (a barman command running on
// the server cannot be stopped through docker exec; removing its directory under it would leave
// files behind). Second signal: remove what we can now and exit.
const stop = new AbortController();
let signalCode: number | undefined;
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const) {
  process.on(signal, () => {
    if (signalCode === undefined) {
      signalCode = code;
      say(`${signal}: stopping after the current step, then removing what run ${runId} started (again to quit at once)`);
      stop.abort(signal);
      return;
    }
    say(
      `${signal} again: removing what run ${runId} started and exiting now; a barman command still running may leave ${workParent}/pgdrill-verify-${runId}-* behind`,
    );
    void cleanUp().finally(() => process.exit(code));
  });
}

let report: FleetReport;
try {
  const what = servers === "all" ? "every server" : servers.map((name) => `'${name}'`).join(", ");
  say(`run ${runId}: verifying the ${args.backup} backup of ${what} in ${endpointName}`);
  report = await verifyFleet({
    barman: endpoint,
    servers,
    shard: args.shard ? parseShard(args.shard) : undefined,
    concurrency: args.concurrency ? Number(args.concurrency) : DEFAULT_CONCURRENCY,
    planFor: (server) => planFromConfig(config, server, overrides),
    backup: args.backup,
    target,
    dbUser: args["db-user"],
    recoveryImage: recoveryImageResolver({ override: settings!.recoveryImage, baseOverride: settings!.baseImage, progress: say }),
    runId,
    labels: runLabels(runId, process.pid),
    budgetsMs: settings!.budgetsMs,
    objectives: settings!.objectives,
    workParent,
    verificationHost,
    progress: (line, server) => say(server ? `[${server}] ${line}` : line),
    signal: stop.signal,
  });
} catch (error) {
  await cleanUp();
  if (error instanceof NightlyInputError) await refuse([error.message]);
  process.stderr.write(`error: the verification could not run: ${(error as Error).message}\n`);
  await finish(1);
  throw error; // unreachable: finish exits
}
// verifyExistingBackup removes what it made; this only catches what an engine error left behind.
await cleanUp();

/** Each output on its own: one that cannot be written is one line on stderr and exit 1, the others are still written. */
let outputFailed = false;
async function output(what: string, write: () => Promise<string>): Promise<void> {
  try {
    say(`${what}: ${await write()}`);
  } catch (error) {
    outputFailed = true;
    process.stderr.write(`error: ${what} could not be written: ${(error as Error).message}\n`);
  }
}
const written = async (path: string, text: string): Promise<string> => {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  return path;
};
await output("JSON report", () => written(resolve(args.report ?? DEFAULT_REPORT), `${JSON.stringify({ ...report, config: configPath }, null, 2)}\n`));
await output("JUnit report", () => written(resolve(args.junit ?? DEFAULT_JUNIT), renderFleetJunit(report)));
await output("Allure results", async () => {
  const directory = resolve(args["allure-results"] ?? DEFAULT_ALLURE_RESULTS);
  await writeFleetAllureResults(report, directory);
  return directory;
});
if (args["prometheus-textfile"]) {
  const path = resolve(args["prometheus-textfile"]);
  await output("Prometheus textfile", async () => {
    await writeNightlyTextfile(path, report);
    return path;
  });
}
if (args.pushgateway) {
  await output("Pushgateway", async () => {
    await pushToPushgateway(args.pushgateway!, report);
    return "pushed";
  });
}

const passed = report.servers.filter((s) => s.verdict === "pass").length;
const summary = [
  ...report.servers.map(renderNightlySummary),
  `${report.servers.length} server(s) verified in shard ${report.shard}: ${passed} passed, ${report.servers.length - passed} failed`,
].join("\n\n");
await finish(signalCode ?? (report.verdict === "pass" && !outputFailed ? 0 : 1), summary);
