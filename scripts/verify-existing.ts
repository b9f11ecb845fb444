// Nightly verification of an existing Barman server (src/nightly/verify-existing.ts) as a command a
// scheduler runs: exit 0 when the backup restored and every check passed, 1 when it did not, 2
// when the command itself was wrong (arguments, configuration, a container or server that does
// not exist). The summary goes to stdout, progress to stderr, the details to a JSON report.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { SshTarget } from "../containers/barman/ssh-transport.ts";
import { assertEngineAnswers, DockerEngineUnavailableError, reap, runLabels } from "../containers/docker-resources.ts";
import type { RecoveryTarget } from "../src/barman/recovery-target.ts";
import { DEFAULT_CONCURRENCY, parseVerifyCommandLine, selectServers, VERIFY_HELP, type VerifyArgs } from "../src/cli/verify-command-line.ts";
import { readSettings, SettingsError } from "../src/drill/config.ts";
import { applyConfigToSettings, DrillConfigError, loadDrillConfig } from "../src/drill/drill-config.ts";
import { removeLeftoverWorkDirectories } from "../src/nightly/barman-endpoint.ts";
import { parseShard, planFromConfig, verifyFleet } from "../src/nightly/fleet.ts";
import { renderFleetJunit, writeFleetAllureResults } from "../src/nightly/fleet-outputs.ts";
import type { FleetReport } from "../src/nightly/fleet-report.ts";
import { type BarmanEndpoint, NightlyInputError, type VerificationHost } from "../src/nightly/nightly-result.ts";
import { pushToPushgateway, writeNightlyTextfile } from "../src/nightly/prometheus.ts";
import { recoveryImageResolver } from "../src/nightly/recovery-image.ts";
import { renderNightlySummary } from "../src/nightly/summary.ts";
import { DEFAULT_WORK_PARENT } from "../src/nightly/work-directories.ts";

// Testcontainers' Ryuk reaper image cannot be pulled here (as in vitest.config.ts): this command
// removes what it starts itself. Read when the first container starts, so setting it here is in time.
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";

// In the working directory's reports/ (npm run sets it to the repository; `pgdrill verify` runs where it is called).
const DEFAULT_REPORT = resolve("reports/nightly-verification.json");
const DEFAULT_JUNIT = resolve("reports/nightly-junit.xml");
const DEFAULT_ALLURE_RESULTS = resolve("reports/allure-results");

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

const commandLine = parseVerifyCommandLine(process.argv.slice(2));
if ("problems" in commandLine) await refuse(commandLine.problems);
const { args, target } = commandLine as { args: VerifyArgs; target: RecoveryTarget };
if (args.help) await finish(0, VERIFY_HELP);

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
const { servers, overrides, problems: configProblems } = selectServers(args, config, configPath, configNamed);
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
