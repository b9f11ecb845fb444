// The report seen as a person sees it: the generated Allure report (npm run report) opened in a
// headless Chrome or Chromium (the one this machine has, see find-browser.ts; driven by
// playwright-core). It checks that the drill's steps, the RTO figures and the evidence attachments
// are really visible, and keeps a screenshot.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import * as allure from "allure-js-commons";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, test } from "vitest";
import allureConfig from "../../allurerc.mjs";
import { type CategoryRule, countByStatus, expectedCategory, isRed, type ResultSummary, readResults } from "./allure-results.ts";
import { findBrowser } from "./find-browser.ts";
import { serveDirectory } from "./static-server.ts";

const REPORT_DIR = "reports/allure-report";
const RESULTS_DIR = "reports/allure-results";

// What the report must show comes from the results it was made from: `npm run drill` alone (the
// quickstart's first command) reports Scenario 12 only, `npm test` every drill; a red run has
// failed steps and the steps they stopped, and nothing of what a green run's later steps show.
const results = readResults(RESULTS_DIR);
const ofFile = (file: string): ResultSummary[] => results.filter((r) => r.file === `pg-dr-drill.tests.drill.${file}`);
const scenario12 = ofFile("drill.test.ts").filter((r) => r.suite.startsWith("Scenario 12"));
const scenario13 = ofFile("scenario-13.test.ts");
const redRun = isRed(results);
const SCREENSHOT = "reports/report-overview.png";
const FAILED_STEP_SCREENSHOT = "reports/report-failed-step.png";
/** At most this many failed steps are opened one by one (a red `npm test` can have more). */
const FAILED_STEPS_OPENED = 5;
const SKIPPED_STEPS_OPENED = 3;
// Flags: no sandbox (root needs that, and so does a non-root user where user namespaces are
// restricted, as on Ubuntu 24.04; the page is our own report served on 127.0.0.1), no GPU, and no
// background traffic to a network that is not there.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const UI_TIMEOUT_MS = 30_000;

/** Waits until the text is on screen; fails naming what the report does not show. */
async function visible(locator: Locator, what: string): Promise<void> {
  try {
    await locator.waitFor({ state: "visible", timeout: UI_TIMEOUT_MS });
  } catch {
    throw new Error(`the report does not show ${what} (waited ${UI_TIMEOUT_MS / 1000} s at ${locator.page().url()})`);
  }
}

/**
 * Opens the results tree down to the Scenario 12 suite. How much of the tree starts open depends on
 * the number of results, so each node is clicked only when its child is not on screen yet.
 */
const SCENARIO_12_PATH = ["pg-dr-drill", "tests", "drill", "drill.test.ts", "Scenario 12: accidental DELETE of all orders (pgdrill.config.ts)"];

async function openScenarioSuite(): Promise<Page> {
  const path = SCENARIO_12_PATH;
  // A fresh page (and browser context) each time: the report remembers which nodes were open.
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  await page.goto(server.url);
  for (let i = 0; i < path.length; i++) {
    const node = page.getByText(path[i]!, { exact: true }).first();
    await visible(node, `the tree node '${path[i]}'`);
    const child = i + 1 < path.length ? page.getByText(path[i + 1]!, { exact: true }).first() : page.getByText(/^Step 1: /).first();
    if (!(await child.isVisible())) await node.click();
  }
  return page;
}

let browser: Browser;
let server: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  if (!existsSync(`${REPORT_DIR}/index.html`)) throw new Error(`no report at ${REPORT_DIR}: run the drill and 'npm run report' first`);
  if (results.length === 0) throw new Error(`no test results in ${RESULTS_DIR}: the report was made from nothing`);
  server = await serveDirectory(REPORT_DIR);
  browser = await chromium.launch({ executablePath: findBrowser(), args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe("The Allure report in a real browser", () => {
  test.runIf(scenario12.length > 0)("the overview lists all twelve steps of the Scenario 12 drill", async () => {
    await allure.epic("Disaster recovery");
    await allure.feature("Evidence");
    await allure.story("Report in a browser");
    const page = await openScenarioSuite();
    for (let step = 1; step <= 12; step++) {
      await visible(page.getByText(new RegExp(`^Step ${step}: `)).first(), `step ${step} listed`);
    }
    await mkdir("reports", { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await allure.attachmentPath("report overview", SCREENSHOT, "image/png");
  });

  test.runIf(!redRun)("the overview says Passed before any percentage", async () => {
    await allure.feature("Evidence");
    await allure.story("Report in a browser");
    await verdictBeforePercentage(await openOverview(), "Passed");
  });

  test.runIf(scenario12.length > 0 && !isRed(scenario12))("step 10 shows the RTO figures and the recovery metrics as evidence", async () => {
    await allure.feature("Evidence");
    await allure.story("Report in a browser");
    const page = await openTest(stepOf(scenario12, /^Step 10: recovery metrics/));
    const details = page.locator("body");
    // The report lists 8 parameters and folds the rest behind "Show more".
    await visible(details.getByText("RTO barmanRecoverMs").first(), "the step's parameters");
    const more = details.getByText("Show more", { exact: true }).first();
    if (await more.isVisible()) await more.click();
    for (const parameter of ["RTO barmanRecoverMs", "RTO instanceStartUntilPromotedMs", "RTO verificationMs", "RTO total from disaster", "RPO rows lost"]) {
      await visible(details.getByText(parameter).first(), `parameter ${parameter}`);
    }
    await visible(details.getByText(/^\d+\.\d{3} s$/).first(), "an RTO figure in seconds");
    for (const attachment of ["recovery-metrics.txt", "recovery-metrics.json", "rto-phases-per-run.svg"]) {
      await visible(details.getByText(attachment).first(), `attachment ${attachment}`);
    }
  });

  test.runIf(scenario12.length > 0 && !isRed(scenario12))("step 9 shows what was checked, with its values, not expect(...) calls", async () => {
    await allure.feature("Evidence");
    await allure.story("Report in a browser");
    const page = await openTest(stepOf(scenario12, /^Step 9: /));
    await visible(
      page.getByText(/orders rows on the recovered instance: 60,104, equal to the good state/).first(),
      "the named check of the recovered orders with its value",
    );
  });

  test.runIf(scenario13.length > 0 && !isRed(scenario13))(
    "Scenario 13 in synchronous mode shows the zero-loss check with its value, and the runbook",
    async () => {
      await allure.feature("Evidence");
      await allure.story("Report in a browser");
      const synchronous = scenario13.filter((r) => r.suite.startsWith("Scenario 13: full disaster recovery, synchronous WAL streaming"));
      const page = await openTest(stepOf(synchronous, /^Step 6: /));
      await visible(
        page.getByText(/^acknowledged commits lost with synchronous WAL streaming: 0, equal to Barman acknowledging every commit/).first(),
        "the zero-loss check with its value",
      );
      const runbookPage = await openTest(stepOf(synchronous, /^Step 11: /));
      await visible(runbookPage.getByText("runbook-executed.txt").first(), "the executed runbook attached");
    },
  );
});

/**
 * Waits until the text is on the page, in any of its frames: the report renders a description in
 * a frame of its own, which locators of the page do not enter.
 */
async function textShown(page: Page, text: string, what: string): Promise<void> {
  const deadline = Date.now() + UI_TIMEOUT_MS;
  const normalised = text.replace(/\s+/g, " ").trim();
  for (;;) {
    const shown = await Promise.all(
      page.frames().map((frame) =>
        frame
          .locator("body")
          .textContent()
          .catch(() => ""),
      ),
    );
    if (shown.some((t) => (t ?? "").replace(/\s+/g, " ").includes(normalised))) return;
    if (Date.now() > deadline) throw new Error(`the report does not show ${what} (waited ${UI_TIMEOUT_MS / 1000} s at ${page.url()})`);
    await page.waitForTimeout(250);
  }
}

/** The run's verdict (Allure's badge from the quality gate) comes before the success rate on the overview. */
async function verdictBeforePercentage(page: Page, verdict: "Failed" | "Passed"): Promise<void> {
  await visible(page.getByText(verdict, { exact: true }).first(), `the verdict '${verdict}' on the overview`);
  const text = (await page.locator("body").textContent()) ?? "";
  const badge = text.search(new RegExp(`\\b${verdict}\\b`));
  const percentage = text.search(/\d+(\.\d+)?%/);
  if (percentage !== -1 && badge > percentage)
    throw new Error(`the overview shows the success rate before the verdict '${verdict}': ${text.slice(0, 200).replace(/\s+/g, " ")}`);
}

/** The report's root page, on a fresh page (the report remembers which nodes were open). */
async function openOverview(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  await page.goto(server.url);
  return page;
}

/**
 * A test's own page. The report's tree re-renders while it filters, so the page is opened by the
 * address the report gives it (#<id>, as a click in the tree does), found by the test's full name
 * in the report's index of test results; what the page shows is then checked against the results.
 */
async function openTest(result: ResultSummary): Promise<Page> {
  const id = reportIdsByFullName().get(result.fullName);
  if (!id) throw new Error(`the report has no test named '${result.fullName}' in ${REPORT_DIR}/data/test-results`);
  const page = await openOverview();
  await page.goto(`${server.url}#${id}`);
  await visible(page.getByText(result.name, { exact: true }).first(), `the page of '${result.name}'`);
  return page;
}

/**
 * The one step of a drill whose name matches. Steps are opened by their own address, not by a click
 * on the first "Step N" in the tree: which suites the tree shows open depends on the run (a red
 * drill's suite opens by itself), so the first match can be another drill's step.
 */
function stepOf(steps: ResultSummary[], name: RegExp): ResultSummary {
  const matching = steps.filter((r) => name.test(r.name));
  if (matching.length !== 1) throw new Error(`expected one result named ${name} in ${steps[0]?.suite ?? "the results"}, found ${matching.length}`);
  return matching[0]!;
}

let reportIds: Map<string, string> | undefined;
function reportIdsByFullName(): Map<string, string> {
  reportIds ??= new Map(
    readdirSync(`${REPORT_DIR}/data/test-results`)
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(`${REPORT_DIR}/data/test-results/${f}`, "utf8")) as { id: string; fullName?: string; name: string })
      .map((t) => [t.fullName ?? t.name, t.id]),
  );
  return reportIds;
}

describe.runIf(redRun)("A red run's report shows what happened", () => {
  const counts = countByStatus(results);
  const failed = results.filter((r) => r.status === "failed" || r.status === "broken");
  const skippedWithReason = results.filter((r) => r.status === "skipped" && r.description?.startsWith("skipped because")).slice(0, SKIPPED_STEPS_OPENED);

  test("the overview says Failed before any percentage, the quality gate failed, and the failed and skipped counts of the results", async () => {
    await allure.feature("Evidence");
    await allure.story("Report of a red run");
    const page = await openOverview();
    await verdictBeforePercentage(page, "Failed");
    await visible(page.getByText(/^Quality Gates\s*1$/).first(), "one failed quality gate rule on the overview");
    const body = page.locator("body");
    for (const [label, count] of [
      ["Total", counts.total],
      ["Failed", counts.failed],
      ["Broken", counts.broken],
      ["Skipped", counts.skipped],
    ] as const) {
      if (count === 0) continue;
      await visible(body.getByText(new RegExp(`^${label}\\s*${count}$`)).first(), `${label} ${count} on the overview`);
    }
  });

  test.each(failed.slice(0, FAILED_STEPS_OPENED).map((r) => [r.name, r] as const))(
    "failed: '%s' shows its status, its cause sentence and its evidence",
    async (_name, result) => {
      await allure.feature("Evidence");
      await allure.story("Report of a red run");
      const page = await openTest(result);
      await visible(page.getByText(result.status === "broken" ? "Broken" : "Failed", { exact: true }).first(), "the step's status");
      const category = expectedCategory(result, allureConfig.categories as CategoryRule[]);
      await visible(page.getByText(`Category: ${category}`).first(), `the step's failure class 'Category: ${category}'`);
      if (result.cause) await visible(page.getByText(result.cause.slice(0, 120)).first(), `the cause sentence '${result.cause.slice(0, 120)}'`);
      if (result === failed[0]) {
        await mkdir("reports", { recursive: true });
        await page.screenshot({ path: FAILED_STEP_SCREENSHOT, fullPage: true });
        await allure.attachmentPath("the failed step in the report", FAILED_STEP_SCREENSHOT, "image/png");
      }
      if (result.attachments.length === 0) return;
      // The tab's label carries the count ("Attachments 6").
      await page
        .getByText(/^Attachments/)
        .first()
        .click();
      for (const name of result.attachments) await visible(page.getByText(name, { exact: true }).first(), `attachment '${name}' of the failed step`);
    },
  );

  test.runIf(skippedWithReason.length > 0)("a step skipped after a failure says which step stopped it", async () => {
    await allure.feature("Evidence");
    await allure.story("Report of a red run");
    for (const result of skippedWithReason) {
      const page = await openTest(result);
      await visible(page.getByText("Skipped", { exact: true }).first(), `'${result.name}' marked skipped`);
      await textShown(page, result.description!, `why '${result.name}' was skipped`);
      await page.close();
    }
  });
});
