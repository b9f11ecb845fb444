// `npm run report`, first half: the HTML report of reports/allure-results as `allure generate` makes
// it, plus the verdict of the quality gate that allurerc.mjs configures, written into the report.
// Allure writes that verdict (the Failed / Passed badge before the title and the success rate, and
// the Quality Gates tab) only when `allure run` runs the tests itself; our tests run first (npm run
// drill, npm test) and the report is made afterwards, so this script does what `allure run` does
// after the tests, with Allure's own API: read the results, validate the gate, send its results and
// the exit code it gives, finish the report. It exits 0 when the report was made, whatever the
// verdict (the run's own command already said red); 1 when no report could be made.
import { existsSync } from "node:fs";
import { AllureReport, filterFailedQualityGateResults, readConfig, stringifyQualityGateResults } from "@allurereport/core";

const RESULTS_DIR = "reports/allure-results";

const NO_RESULTS = `no test results in ${RESULTS_DIR}: run the drill (npm run drill) or the suite (npm test) first`;

try {
  if (!existsSync(RESULTS_DIR)) throw new Error(NO_RESULTS);
  const config = await readConfig(process.cwd());
  const report = new AllureReport(config);
  await report.start();
  await report.readDirectory(RESULTS_DIR);
  const results = await report.store.allTestResults({ includeRetries: false });
  if (results.length === 0) throw new Error(NO_RESULTS);
  const gate = (await report.validate({ trs: results })).results;
  const failed = filterFailedQualityGateResults(gate);
  if (gate.length > 0) report.realtimeDispatcher.sendQualityGateResults(gate);
  const verdict = failed.length > 0 ? 1 : 0;
  report.realtimeDispatcher.sendGlobalExitCode({ original: verdict, actual: verdict });
  await report.done();
  console.log(
    failed.length > 0
      ? `report: ${config.output} made; quality gate FAILED:\n${stringifyQualityGateResults(gate)}`
      : `report: ${config.output} made; quality gate passed (${results.length} results)`,
  );
} catch (error) {
  console.error(`report: could not be made: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
