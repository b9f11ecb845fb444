// The objectives are a gate, not a decoration: a configuration whose RTO objective cannot be met
// (rtoTotalS: 0.001) makes `npm run drill`'s step 10 fail naming the objective, and skips the
// steps after it. The drill runs as a child Vitest in a sandbox (the project's files linked into a
// temporary folder), so its results and metrics never mix with this run's.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as allure from "allure-js-commons";
import { afterAll, expect, test } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const VITEST = join(ROOT, "node_modules/vitest/vitest.mjs");
let sandbox: string | undefined;

afterAll(async () => {
  if (sandbox) await rm(sandbox, { recursive: true, force: true });
});

/** The JUnit test cases of the child run: name, and "passed", "skipped" or the failure message. */
function testCases(junit: string): Array<{ name: string; outcome: string }> {
  return [...junit.matchAll(/<testcase [^>]*name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => {
    const body = m[3] ?? "";
    const failure = /<failure message="([^"]*)"/.exec(body);
    return {
      name: m[1]!.replaceAll("&gt;", ">").replaceAll("&apos;", "'"),
      outcome: failure ? failure[1]!.replaceAll("&quot;", '"') : /<skipped/.test(body) ? "skipped" : "passed",
    };
  });
}

test("a configuration with rtoTotalS: 0.001 fails step 10, naming the objective, and skips the rest", async () => {
  await allure.epic("Disaster recovery");
  await allure.feature("Failure drills: the gate goes red");
  await allure.story("RTO objective missed");
  sandbox = await mkdtemp(join(tmpdir(), "pgdrill-objectives-"));
  for (const entry of await readdir(ROOT)) {
    if (entry !== "reports" && entry !== ".git") await symlink(join(ROOT, entry), join(sandbox, entry));
  }
  await writeFile(
    join(sandbox, "impossible-rto.config.ts"),
    [
      `import scenario12 from ${JSON.stringify(join(ROOT, "fixtures/scenario-12.config.ts"))};`,
      `import { defineDrillConfig } from ${JSON.stringify(join(ROOT, "src/drill/drill-config.ts"))};`,
      `export default defineDrillConfig({ ...scenario12, objectives: { ...scenario12.objectives, rtoTotalS: 0.001 } });`,
      "",
    ].join("\n"),
  );
  const junitPath = join(sandbox, "junit.xml");
  // The configuration's objective, not a variable of this run's environment (variables win).
  const env: NodeJS.ProcessEnv = { ...process.env, PGDRILL_CONFIG: "impossible-rto.config.ts" };
  delete env["PGDRILL_RTO_TOTAL_S"];
  const child = spawn(
    process.execPath,
    [VITEST, "run", "--project", "drill", "tests/drill/drill.test.ts", "--reporter=junit", `--outputFile.junit=${junitPath}`],
    {
      cwd: sandbox,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  await allure.attachment("child drill output", output, "text/plain");

  expect(code, "the drill with an impossible objective must not pass").toBe(1);
  const cases = testCases(await readFile(junitPath, "utf8"));
  await allure.attachment("child drill results", JSON.stringify(cases, null, 2), "application/json");
  const outcome = (step: number): string => cases.find((c) => c.name.includes(`Step ${step}:`))?.outcome ?? "missing";
  for (let step = 1; step <= 9; step++) expect(outcome(step), `step ${step}`).toBe("passed");
  expect(outcome(10), "step 10 names the objective missed").toMatch(
    /RTO total .* over its budget of 0\.001 s \(objectives\.rtoTotalS in the configuration, or PGDRILL_RTO_TOTAL_S\)/,
  );
  expect([outcome(11), outcome(12)], "steps after the failed one").toEqual(["skipped", "skipped"]);
});
