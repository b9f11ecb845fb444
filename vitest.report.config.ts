import { defineConfig } from "vitest/config";

// `npm run report`: the report check runs after the report exists, apart from `npm test`.
export default defineConfig({
  test: {
    include: ["tests/report/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default", "junit", ["allure-vitest/reporter", { resultsDir: "reports/allure-results" }]],
    outputFile: { junit: "reports/junit-report.xml" },
  },
});
