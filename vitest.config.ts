import { defineConfig } from "vitest/config";

// Testcontainers' Ryuk reaper image cannot be pulled here; the drill removes what it starts
// itself (labels, see containers/docker-resources.ts).
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";

export default defineConfig({
  test: {
    reporters: [
      "default",
      "junit",
      ["allure-vitest/reporter", { resultsDir: "reports/allure-results" }],
    ],
    outputFile: { junit: "reports/junit.xml" },
    projects: [
      {
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "drill",
          include: ["tests/drill/**/*.test.ts"],
          globalSetup: ["tests/drill/global-setup.ts"],
          env: { TESTCONTAINERS_RYUK_DISABLED: "true" },
          // Each step enforces its own named budgets (src/config.ts); these are only a backstop.
          testTimeout: 30 * 60_000,
          hookTimeout: 30 * 60_000,
          // Drill files share one Docker engine and two cores: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
