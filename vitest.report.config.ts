import { defineConfig } from "vitest/config";

// `npm run report`: the report check runs after the report exists, apart from `npm test`.
export default defineConfig({
  test: {
    include: ["tests/report/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Its own results apart from the drills': the report it checks was made from those, and a
    // second `npm run report` must find them as the first did.
    reporters: ["default", "junit", ["allure-vitest/reporter", { resultsDir: "reports/report-check-results" }]],
    outputFile: { junit: "reports/junit-report.xml" },
  },
});
