#!/usr/bin/env node
// `pgdrill`: the suite as an installed tool. `pgdrill drill` runs a team's configuration as the
// twelve ordered Vitest steps (src/suite/drill-run.ts) with its Allure results in the working
// directory; `pgdrill verify` is the nightly verification (scripts/verify-existing.ts);
// `pgdrill clean` removes what killed runs left in Docker (scripts/reap.ts). Exit codes: 0 done,
// 1 a drill or verification failed, 2 the command itself was wrong.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
/** .ts when run from the repository (Node strips the types), .js in the built package (dist/). */
const OWN_EXTENSION = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

const USAGE = `pgdrill: PostgreSQL + Barman disaster-recovery drills and nightly verification

Usage:
  pgdrill drill [--config FILE]   run the drill of FILE (default: pgdrill.config.ts here, or
                                  PGDRILL_CONFIG) as twelve ordered steps; results in ./reports
  pgdrill verify [options]        verify the backups of existing Barman servers (pgdrill verify --help)
  pgdrill clean [--all]           remove what killed drill runs left in Docker
  pgdrill --version               this package's version
  pgdrill --help                  this text

Exit codes: 0 done, 1 a drill step or a verification failed, 2 the command was wrong.
Needs a Docker engine (DOCKER_HOST, or the local socket) and Node 24.`;

/** The package's root: the first directory above this file with our package.json (found once). */
const PACKAGE_ROOT = ((): string => {
  for (let dir = HERE; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "pg-dr-drill") return dir;
  }
  throw new Error(`pgdrill: no package.json of pg-dr-drill above ${HERE}`);
})();

function refuse(problem: string): never {
  process.stderr.write(`pgdrill: ${problem}\nRun pgdrill --help for the usage.\n`);
  process.exit(2);
}

/** The module `path` (relative to the package root, without extension) as this build has it. */
const own = (path: string): string => join(PACKAGE_ROOT, OWN_EXTENSION === ".ts" ? "" : "dist", `${path}${OWN_EXTENSION}`);

async function drill(argv: string[]): Promise<void> {
  let parsed: { values: { config?: string; help?: boolean } };
  try {
    parsed = parseArgs({ args: argv, options: { config: { type: "string" }, help: { type: "boolean" } }, strict: true, allowPositionals: false });
  } catch (error) {
    refuse((error as Error).message);
  }
  if (parsed.values.help) {
    console.log(USAGE.split("\n").slice(0, 5).join("\n"));
    return;
  }
  if (parsed.values.config) {
    const path = resolve(parsed.values.config);
    if (!existsSync(path)) refuse(`--config ${parsed.values.config}: no such file`);
    process.env["PGDRILL_CONFIG"] = path;
  }
  // No Ryuk and the engine's address for published ports: the global set-up sets them, as the
  // repository's vitest.config.ts does, before any test worker starts.
  const { startVitest } = await import("vitest/node");
  const suite = own("src/suite/drill-run");
  const vitest = await startVitest(
    "test",
    [],
    {
      config: false,
      root: process.cwd(),
      dir: dirname(suite),
      include: [suite.slice(dirname(suite).length + 1)],
      exclude: [],
      watch: false,
      globalSetup: [own("src/suite/global-setup")],
      // Each step enforces its own named budgets (src/drill/config.ts); these are only a backstop.
      testTimeout: 30 * 60_000,
      hookTimeout: 30 * 60_000,
      reporters: ["default", "junit", ["allure-vitest/reporter", { resultsDir: "reports/allure-results", reportMatchers: false }]],
      outputFile: { junit: "reports/junit.xml" },
    },
    { server: { fs: { strict: false } } },
  );
  const failed = !vitest || vitest.state.getCountOfFailedTests() > 0 || vitest.state.getUnhandledErrors().length > 0;
  await vitest?.close();
  process.exitCode = failed ? 1 : 0;
}

/** A script of the package run as if called with `argv`. */
async function script(path: string, argv: string[]): Promise<void> {
  process.argv = [process.argv[0]!, own(path), ...argv];
  await import(own(path));
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case "drill":
    await drill(rest);
    break;
  case "verify":
    await script("scripts/verify-existing", rest);
    break;
  case "clean":
    await script("scripts/reap", rest);
    break;
  case "--version":
  case "-v":
    console.log((JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version);
    break;
  case undefined:
  case "--help":
  case "-h":
  case "help":
    console.log(USAGE);
    break;
  default:
    refuse(`unknown command '${command}' (drill, verify, clean)`);
}
