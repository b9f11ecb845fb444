// The suite as a team installs it: `npm pack` of this repository, the tarball installed into a
// fresh directory outside it (no access to the source tree), a small configuration of the team's
// own there (`import { defineDrillConfig } from "pg-dr-drill"`, its SQL beside it), then
// `npx pgdrill drill` green with its Allure results written there, the same drill inside the team's
// own Vitest run, a drill whose expectation is wrong red (exit 1), a wrong command refused (exit 2),
// and `npx pgdrill verify --help`.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import * as allure from "allure-js-commons";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";

const REPOSITORY = process.cwd();
/** The commands run with this Node (24) first on PATH, as a team's CI with Node 24 does. */
const ENV: NodeJS.ProcessEnv = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env["PATH"] ?? ""}`, NO_COLOR: "1" };
delete ENV["FORCE_COLOR"];
// The team's directory decides which configuration runs, not this repository's settings.
delete ENV["PGDRILL_CONFIG"];
const say = (line: string): void => console.log(`[packed-install] ${line}`);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** A command in `cwd`, its exit code and output (never throws for a non-zero exit). */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<Ran> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: ENV, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, seconds: Math.round((performance.now() - started) / 100) / 10 });
    });
  });
}

async function attach(name: string, ran: Ran): Promise<void> {
  await allure.attachment(`${name}: output`, `exit ${ran.code} in ${ran.seconds} s\n\n${ran.stdout}\n--- stderr ---\n${ran.stderr}`, "text/plain");
}

const TEAM_CONFIG = (expectedAccounts: number): string => `import { defineDrillConfig } from "pg-dr-drill";

export default defineDrillConfig({
  name: "Team drill: accidental DELETE of the accounts",
  database: "bank",
  seed: [{ file: "seed.sql" }],
  normalWork: ["INSERT INTO accounts SELECT i, 'owner-' || i, 50 FROM generate_series(501, 520) AS i"],
  disaster: ["DELETE FROM accounts"],
  verify: { tables: ["accounts"], queries: [{ name: "accounts", sql: "SELECT count(*)::int FROM accounts", expected: [[520]] }] },
  expect: { baseline: { accounts: ${expectedAccounts} }, goodState: { accounts: 520 }, afterDisaster: { accounts: 0 } },
  targets: ["time"],
});
`;
const TEAM_SEED = `CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL);
INSERT INTO accounts SELECT i, 'owner-' || i, 100 FROM generate_series(1, 500) AS i;
`;

describe("pgdrill installed from its packed tarball, outside the repository", () => {
  let work: string;
  let team: string;
  let tarball: string;

  beforeEach(async () => {
    await allure.epic("Disaster recovery");
    await allure.feature("The installed tool (npx pgdrill)");
  });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "pgdrill-packed-"));
    team = join(work, "team");
    // npm pack runs prepack: the build (scripts/build-package.mjs) into dist/.
    const packed = await run("npm", ["pack", "--silent", "--pack-destination", work], REPOSITORY, 300_000);
    if (packed.code !== 0) throw new Error(`npm pack failed (exit ${packed.code}):\n${packed.stderr}`);
    tarball = join(work, packed.stdout.trim().split("\n").at(-1)!);
    say(`packed ${tarball} in ${packed.seconds} s`);
    await mkdir(team);
    await writeFile(join(team, "package.json"), `${JSON.stringify({ name: "team-drill", private: true, type: "module" }, null, 2)}\n`);
    // --prefer-offline: the repository's own npm ci filled the cache with these exact versions.
    const installed = await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], team, 600_000);
    if (installed.code !== 0) throw new Error(`npm install of the tarball failed (exit ${installed.code}):\n${installed.stderr}`);
    say(`installed into ${team} in ${installed.seconds} s`);
    await writeFile(join(team, "seed.sql"), TEAM_SEED);
  }, 900_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test("the tarball holds the built package only: no TypeScript source, no tests", async () => {
    const listed = await run("tar", ["tzf", tarball], work, 30_000);
    const entries = listed.stdout.split("\n").filter(Boolean);
    await allure.attachment("tarball entries", entries.join("\n"), "text/plain");
    expect(entries).toContain("package/dist/bin/pgdrill.js");
    expect(entries).toContain("package/dist/containers/postgres/Dockerfile");
    expect(entries.filter((e) => !/^package\/(dist\/|package\.json$|README\.md$)/.test(e))).toEqual([]);
    expect(entries.filter((e) => /\.ts$/.test(e) && !/\.d\.ts$/.test(e))).toEqual([]);
  });

  test("npx pgdrill drill runs the team's configuration green, its Allure results and JUnit written in the team's directory", async () => {
    await writeFile(join(team, "pgdrill.config.ts"), TEAM_CONFIG(500));
    const drill = await run("npx", ["pgdrill", "drill"], team, 900_000);
    await attach("npx pgdrill drill", drill);
    expect(drill.code, drill.stdout.slice(-3000) + drill.stderr.slice(-3000)).toBe(0);
    expect(drill.stdout).toMatch(/Tests\s+(\S+\s+)?12 passed/);
    const junit = await readFile(join(team, "reports/junit.xml"), "utf8");
    expect(junit).toMatch(/<testsuites [^>]*tests="12" failures="0" errors="0"/);
    const results = (await readdir(join(team, "reports/allure-results"))).filter((f) => f.endsWith("-result.json"));
    const names = await Promise.all(
      results.map(async (f) => (JSON.parse(await readFile(join(team, "reports/allure-results", f), "utf8")) as { name: string }).name),
    );
    expect(names.filter((n) => /^Step \d+:/.test(n)).sort()).toHaveLength(12);
    say(`npx pgdrill drill: green in ${drill.seconds} s`);
  });

  test("the same drill inside the team's own Vitest run (defineDrillSuite, with pg-dr-drill/global-setup)", async () => {
    await writeFile(join(team, "pgdrill.config.ts"), TEAM_CONFIG(500));
    await writeFile(
      join(team, "drill.test.ts"),
      'import { defineDrillSuite, loadDrillConfig } from "pg-dr-drill";\ndefineDrillSuite({ loaded: await loadDrillConfig(), name: "drill", source: "pgdrill.config.ts" });\n',
    );
    await writeFile(
      join(team, "vitest.config.ts"),
      'import { defineConfig } from "vitest/config";\nexport default defineConfig({ test: { globalSetup: ["pg-dr-drill/global-setup"], testTimeout: 1_800_000, hookTimeout: 1_800_000 } });\n',
    );
    const own = await run("npx", ["vitest", "run"], team, 900_000);
    await attach("npx vitest run (the team's own)", own);
    await rm(join(team, "drill.test.ts"));
    await rm(join(team, "vitest.config.ts"));
    expect(own.code, own.stdout.slice(-3000) + own.stderr.slice(-3000)).toBe(0);
    expect(own.stdout).toMatch(/Tests\s+12 passed/);
  });

  test("a team configuration whose expectation is wrong turns the installed drill red (exit 1), naming the table and both counts", async () => {
    await writeFile(join(team, "pgdrill.config.ts"), TEAM_CONFIG(499));
    const drill = await run("npx", ["pgdrill", "drill"], team, 900_000);
    await attach("npx pgdrill drill (wrong expectation)", drill);
    expect(drill.code).toBe(1);
    expect(drill.stdout + drill.stderr).toMatch(/accounts/);
    expect(drill.stdout + drill.stderr).toMatch(/499/);
    expect(drill.stdout + drill.stderr).toMatch(/500/);
  });

  test("wrong commands are refused with exit 2 and one line; --version and verify --help answer", async () => {
    const missing = await run("npx", ["pgdrill", "drill", "--config", "nope.ts"], team, 120_000);
    expect([missing.code, missing.stderr.split("\n")[0]]).toEqual([2, "pgdrill: --config nope.ts: no such file"]);
    const unknown = await run("npx", ["pgdrill", "frob"], team, 120_000);
    expect([unknown.code, unknown.stderr.split("\n")[0]]).toEqual([2, "pgdrill: unknown command 'frob' (drill, verify, clean)"]);
    const version = await run("npx", ["pgdrill", "--version"], team, 120_000);
    const ours = (JSON.parse(await readFile(join(REPOSITORY, "package.json"), "utf8")) as { version: string }).version;
    expect([version.code, version.stdout.trim()]).toEqual([0, ours]);
    const help = await run("npx", ["pgdrill", "verify", "--help"], team, 120_000);
    await attach("npx pgdrill verify --help", help);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pgdrill verify /);
  });
});
