// Allure 3 (`npm run report`, scripts/report.mjs): the HTML report of reports/allure-results, with
// the history of earlier runs so trends and flaky/new failures show across nights.
// A plain object, not allure's defineConfig: importing the "allure" package starts its command line
// (scripts/report.mjs reads this file through Allure's API and would print the CLI's help).
export default {
  name: "PostgreSQL disaster-recovery drill",
  output: "reports/allure-report",
  historyPath: "reports/history/allure-history.jsonl",
  historyLimit: 60,
  // The verdict before any percentage: one failed or broken step fails the gate, and the report's
  // header says Failed (a success rate leaves skipped steps out: a drill red at step 6 of 12 would
  // read 83%). scripts/report.mjs writes the gate's results into the report.
  qualityGate: { rules: [{ maxFailures: 0 }] },
  // Each failure sorted into the class a DBA acts on, first match wins, by the words the suite and
  // the servers use (a step's message starts with its cause). Unmatched: Allure's own "Product
  // errors" / "Test errors".
  categories: [
    {
      name: "WAL gap (a segment the recovery needs is missing)",
      matchers: {
        statuses: ["failed", "broken"],
        message: /WAL segments? missing|missing from Barman's archive|could not find .*WAL|requested WAL segment .* has already been removed/,
      },
    },
    {
      name: "Backup damaged",
      matchers: {
        statuses: ["failed", "broken"],
        message: /damaged|checksum verification failed|invalid page|does not match (its|the) backup manifest|pg_verifybackup: error/,
      },
    },
    {
      name: "Backup could not be verified",
      matchers: { statuses: ["failed", "broken"], message: /NOT VERIFIED|could not verify|not verified/ },
    },
    {
      name: "Recovery target not reached",
      matchers: {
        statuses: ["failed", "broken"],
        message: /recovery ended before configured recovery target|before the backup end time|target .* not reached|did not promote/,
      },
    },
    {
      name: "Objective missed (RTO / RPO)",
      matchers: { statuses: ["failed", "broken"], message: /\bRTO\b|\bRPO\b|objective/ },
    },
    {
      name: "Infrastructure (engine, containers, images, SSH, disk)",
      matchers: {
        statuses: ["failed", "broken"],
        message: /Docker|docker|container|image|engine|No space left on device|ssh:|Connection (refused|reset|closed)|Timed out/,
      },
    },
  ],
};
