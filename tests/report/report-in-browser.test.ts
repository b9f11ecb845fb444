// The report seen as a person sees it: the generated Allure report (npm run report) opened in a
// headless Chrome or Chromium (the one this machine has, see find-browser.ts; driven by
// playwright-core). It checks that the drill's steps, the RTO figures and the evidence attachments
// are really visible, and keeps a screenshot.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import * as allure from "allure-js-commons";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, test } from "vitest";
import { findBrowser } from "./find-browser.ts";
import { serveDirectory } from "./static-server.ts";

const REPORT_DIR = "reports/allure-report";
const RESULTS_DIR = "reports/allure-results";

/**
 * Whether the results the report was made from hold a test file: `npm run drill` alone (the
 * quickstart's first command) reports Scenario 12 only, `npm test` every drill.
 */
function resultsInclude(testFile: string): boolean {
  if (!existsSync(RESULTS_DIR)) return false;
  return readdirSync(RESULTS_DIR)
    .filter((f) => f.endsWith("-result.json"))
    .some((f) => readFileSync(`${RESULTS_DIR}/${f}`, "utf8").includes(testFile));
}
const SCREENSHOT = "reports/report-overview.png";
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

async function openScenarioSuite(path: string[] = SCENARIO_12_PATH): Promise<Page> {
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

describe("The Allure report in a real browser", () => {
  beforeAll(async () => {
    if (!existsSync(`${REPORT_DIR}/index.html`)) throw new Error(`no report at ${REPORT_DIR}: run the drill and 'npm run report' first`);
    server = await serveDirectory(REPORT_DIR);
    browser = await chromium.launch({ executablePath: findBrowser(), args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test("the overview lists all twelve steps of the Scenario 12 drill", async () => {
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

  test("step 10 shows the RTO figures and the recovery metrics as evidence", async () => {
    await allure.feature("Evidence");
    await allure.story("Report in a browser");
    const page = await openScenarioSuite();
    await page
      .getByText(/^Step 10: recovery metrics/)
      .first()
      .click();
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

  test("step 9 shows what was checked, with its values, not expect(...) calls", async () => {
    await allure.feature("Evidence");
    await allure.story("Report in a browser");
    const page = await openScenarioSuite();
    await page
      .getByText(/^Step 9: /)
      .first()
      .click();
    await visible(
      page.getByText(/orders rows on the recovered instance: 60,104, equal to the good state/).first(),
      "the named check of the recovered orders with its value",
    );
  });

  test.skipIf(!resultsInclude("scenario-13.test.ts"))("Scenario 13 in synchronous mode shows the zero-loss check with its value, and the runbook", async () => {
    await allure.feature("Evidence");
    await allure.story("Report in a browser");
    const synchronousSuite = [
      "pg-dr-drill",
      "tests",
      "drill",
      "scenario-13.test.ts",
      "Scenario 13: full disaster recovery, synchronous WAL streaming to Barman (fixtures/scenario-13/synchronous.config.ts)",
    ];
    const page = await openScenarioSuite(synchronousSuite);
    await page
      .getByText(/^Step 6: /)
      .first()
      .click();
    await visible(
      page.getByText(/^acknowledged commits lost with synchronous WAL streaming: 0, equal to Barman acknowledging every commit/).first(),
      "the zero-loss check with its value",
    );
    // A fresh page: the step's own page has replaced the tree.
    const runbookPage = await openScenarioSuite(synchronousSuite);
    await runbookPage
      .getByText(/^Step 11: /)
      .first()
      .click();
    await visible(runbookPage.getByText("runbook-executed.txt").first(), "the executed runbook attached");
  });
});
