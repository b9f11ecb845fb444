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
import { assertEngineAnswers, DockerEngineUnavailableError, reap, runLabels } from "../containers/docker-resources.ts";
import { readSettings, SettingsError } from "../src/config.ts";
import { applyConfigToSettings, DrillConfigError, loadDrillConfig } from "../src/drill-config.ts";
import { recoveryImageResolver } from "../src/nightly/recovery-image.ts";
import {
  type BarmanEndpoint,
  DEFAULT_WORK_PARENT,
  NightlyInputError,
  type NightlyResult,
  removeLeftoverWorkDirectories,
  renderNightlySummary,
  verifyExistingBackup,
} from "../src/nightly/verify-existing.ts";
import { assertTimeHasOffset, type RecoveryTarget } from "../src/recovery-target.ts";

// Testcontainers' Ryuk reaper image cannot be pulled here (as in vitest.config.ts): this command
// removes what it starts itself. Read when the first container starts, so setting it here is in time.
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";

const DEFAULT_REPORT = fileURLToPath(new URL("../reports/nightly-verification.json", import.meta.url));

const HELP = `Usage: node --experimental-transform-types --disable-warning=ExperimentalWarning scripts/verify-existing.ts \\
         (--barman-container NAME | --barman-ssh USER@HOST) --server NAME [options]

Verifies a backup of an EXISTING Barman server without touching the production database:
barman verify-backup, barman recover into a temporary directory on the Barman server (removed
afterwards), the recovered data directory streamed into a throwaway PostgreSQL container with no
network, the checks of the config's nightly.checks run there, the RTO phases measured.

Options:
  --barman-container NAME  container (name or id) of the Barman server, reached with docker exec
  --barman-ssh USER@HOST   the Barman host, reached with the OpenSSH client as USER (your ~/.ssh/config,
                           agent, ProxyJump and known_hosts apply; an unknown or changed host key is refused)
  --ssh-port N             SSH port (default: ssh's, from ~/.ssh/config or 22)
  --ssh-identity FILE      private key file for --barman-ssh (used alone)
  --ssh-known-hosts FILE   known_hosts file for --barman-ssh instead of ~/.ssh/known_hosts
  --server NAME            Barman's name for the PostgreSQL server (default: the config's barman.serverName)
  --backup latest|ID       backup to verify (default latest: the newest DONE backup)
  --target-time T          recover to a time with UTC offset, e.g. "2026-11-25 08:29:31+00"
  --target-name N          recover to a restore point
  --target-xid X           recover to a transaction id
  --target-lsn L           recover to an LSN, e.g. 0/3000060
  --exclusive              with --target-xid/--target-lsn: stop just before the target
                           (no target option: end of the backup, --target-immediate)
  --database DB            database the checks run in (default: the config's database)
  --db-user U              role the checks run as (default postgres; local trust, no password)
  --config PATH            drill config with nightly.checks (default: PGDRILL_CONFIG or ./pgdrill.config.ts)
  --barman-work-dir DIR    parent of the temporary directory on the Barman server (default ${DEFAULT_WORK_PARENT});
                           it needs room for one full copy of the recovered data directory
  --report PATH            JSON report (default reports/nightly-verification.json)
  --help                   this text

Transport: docker exec into a containerised Barman server, or SSH to a Barman host; the restore
goes into a temporary directory there (removed afterwards) and streams back over the same path.
Time budgets: PGDRILL_BUDGET_RECOVER_S bounds every command on the Barman server,
PGDRILL_BUDGET_RECOVERED_INSTANCE_PROMOTED_S the instance start, PGDRILL_BUDGET_SQL_STATEMENT_S each check.
The throwaway instance runs the backup's PostgreSQL major version (from Barman's metadata): this
suite's image for 15, 17 or 18 (built on first use), or PGDRILL_RECOVERY_IMAGE, any image that
honours the official postgres image's contract (e.g. postgres:16 where a registry is reachable).
Exit codes: 0 verified, 1 verification failed (summary says why), 2 wrong arguments or configuration,
128+N interrupted by signal N (Ctrl-C: stops after the current step and cleans up; twice: at once).`;

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: "must be a name of letters, digits, '.', '_' and '-'" });
const argsSchema = z
  .object({
    "barman-container": name.optional(),
    "barman-ssh": z
      .string()
      .regex(/^([A-Za-z0-9._-]+@)?[A-Za-z0-9._:-]+$/, { message: "must be an SSH destination such as barman@backup-host" })
      .refine((d) => !d.startsWith("-"), { message: "must be an SSH destination such as barman@backup-host" })
      .optional(),
    "ssh-port": z
      .string()
      .regex(/^\d{1,5}$/, { message: "must be a port number" })
      .refine((p) => Number(p) >= 1 && Number(p) <= 65535, { message: "must be a port number (1-65535)" })
      .optional(),
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
    help: z.boolean().optional(),
  })
  .strict();
type Args = z.infer<typeof argsSchema>;

const options = Object.fromEntries(
  Object.keys(argsSchema.shape).map((key) => [key, { type: key === "exclusive" || key === "help" ? "boolean" : "string" }]),
) as Record<keyof Args, { type: "string" | "boolean" }>;

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
  for (const option of ["ssh-port", "ssh-identity", "ssh-known-hosts"] as const) {
    if (args[option] !== undefined && !args["barman-ssh"]) problems.push(`--${option} only goes with --barman-ssh`);
  }
  for (const option of ["ssh-identity", "ssh-known-hosts"] as const) {
    if (args[option] !== undefined && !existsSync(resolve(args[option]))) problems.push(`--${option} ${args[option]}: no such file`);
  }
  const targets = (["target-time", "target-name", "target-xid", "target-lsn"] as const).filter((k) => args[k] !== undefined);
  if (targets.length > 1) problems.push(`give at most one recovery target, not ${targets.map((t) => `--${t}`).join(" and ")}`);
  if (args.exclusive && !args["target-xid"] && !args["target-lsn"]) problems.push("--exclusive only goes with --target-xid or --target-lsn");
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
          : { kind: "immediate" };
  return { args, target };
}

const commandLine = parseCommandLine(process.argv.slice(2));
if ("problems" in commandLine) await refuse(commandLine.problems);
const { args, target } = commandLine as { args: Args; target: RecoveryTarget };
if (args.help) await finish(0, HELP);

// loadDrillConfig names PGDRILL_CONFIG for a missing file; here the path came from --config.
if (args.config && !existsSync(resolve(args.config))) await refuse([`--config ${args.config}: no such file`]);
let loaded: Awaited<ReturnType<typeof loadDrillConfig>> | undefined;
let settings: ReturnType<typeof readSettings> | undefined;
try {
  loaded = await loadDrillConfig({ path: args.config });
  settings = applyConfigToSettings(readSettings(), loaded.config);
} catch (error) {
  if (error instanceof DrillConfigError || error instanceof SettingsError)
    await refuse(error.problems.map((p) => (error instanceof DrillConfigError ? `${error.source}: ${p}` : p)));
  throw error;
}
const { config, path: configPath } = loaded!;
const checks = config.nightly?.checks;
const server = args.server ?? config.barman?.serverName;
const database = args.database ?? config.database;
const configProblems = [
  !checks?.length &&
    `${configPath}: config.nightly.checks is not set; give the checks to run on the recovered backup, e.g. nightly: { checks: [{ name: "orders", sql: "SELECT count(*) FROM orders", expected: [[60004]] }] }`,
  !server && "--server is required (or set config.barman.serverName): Barman's name for the PostgreSQL server",
  !database && "--database is required (or set config.database): the database the checks run in",
].filter((p): p is string => typeof p === "string");
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
const endpoint: BarmanEndpoint = args["barman-ssh"]
  ? {
      ssh: {
        destination: args["barman-ssh"],
        port: args["ssh-port"] ? Number(args["ssh-port"]) : undefined,
        identityFile: args["ssh-identity"] ? resolve(args["ssh-identity"]) : undefined,
        knownHostsFile: args["ssh-known-hosts"] ? resolve(args["ssh-known-hosts"]) : undefined,
      },
    }
  : { container: args["barman-container"]! };
const endpointName = args["barman-ssh"] ? `SSH ${args["barman-ssh"]}` : `container ${args["barman-container"]}`;

/** What this command may have left: the throwaway container (by label) and the Barman-side directory. */
async function cleanUp(): Promise<void> {
  await reap({ runId }).catch((error: Error) => say(`could not remove the containers of run ${runId}: ${error.message}`));
  await removeLeftoverWorkDirectories(endpoint, runId, workParent).catch((error: Error) => {
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

let result: NightlyResult;
try {
  say(`run ${runId}: verifying ${args.backup} backup of '${server}' in ${endpointName}`);
  result = await verifyExistingBackup({
    barman: endpoint,
    server: server!,
    backup: args.backup,
    target,
    checks: checks!,
    database: database!,
    dbUser: args["db-user"],
    recoveryImage: recoveryImageResolver({ override: settings!.recoveryImage, baseOverride: settings!.baseImage, progress: say }),
    runId,
    labels: runLabels(runId, process.pid),
    budgetsMs: settings!.budgetsMs,
    objectives: settings!.objectives,
    workParent,
    progress: say,
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

const reportPath = resolve(args.report ?? DEFAULT_REPORT);
await mkdir(dirname(reportPath), { recursive: true });
await writeFile(
  reportPath,
  `${JSON.stringify({ schemaVersion: 1, runId, finishedAt: new Date().toISOString(), config: configPath, database, ...result }, null, 2)}\n`,
);
say(`report written to ${reportPath}`);
await finish(signalCode ?? (result.verdict === "pass" ? 0 : 1), renderNightlySummary(result));
