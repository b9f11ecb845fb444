// Allure 3 (`npm run report`): the HTML report of reports/allure-results, with the history of
// earlier runs so trends and flaky/new failures show across nights.
import { defineConfig } from "allure";

export default defineConfig({
  name: "PostgreSQL disaster-recovery drill",
  output: "reports/allure-report",
  historyPath: "reports/history/allure-history.jsonl",
  historyLimit: 60,
});
