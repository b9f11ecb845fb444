import { defineConfig } from "vitest/config";

// Testcontainers' Ryuk reaper image cannot be pulled here; the drill removes what it starts
// itself (labels, see containers/docker-resources.ts).
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";
// Host ports are bound to 127.0.0.1 only (containers/postgres/postgres-containers.ts). Inside a
// container (/.dockerenv) Testcontainers would otherwise reach them through the bridge gateway.
process.env["TESTCONTAINERS_HOST_OVERRIDE"] ??= "127.0.0.1";

export default defineConfig({
  test: {
    reporters: [
      "default",
      "junit",
      // reportMatchers off: each assertion is a named step with its values (tests/support/verify.ts), not expect(0).toBe(0).
      ["allure-vitest/reporter", { resultsDir: "reports/allure-results", reportMatchers: false }],
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
