import { defineConfig } from "vitest/config";
import { applyTestcontainersHost } from "./containers/engine-endpoint.ts";

// Testcontainers' Ryuk reaper image cannot be pulled here; the drill removes what it starts
// itself (labels, see containers/docker-resources.ts).
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";
// Where published ports are reached: 127.0.0.1 for a local engine (ports are bound there only;
// inside a container Testcontainers would otherwise go to the bridge gateway), the engine's host
// for a remote DOCKER_HOST (containers/engine-endpoint.ts).
applyTestcontainersHost(process.env);

export default defineConfig({
  test: {
    reporters: [
      "default",
      "junit",
      // reportMatchers off: each assertion is a named step with its values (src/suite/verify.ts), not expect(0).toBe(0).
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
          globalSetup: ["src/suite/global-setup.ts"],
          // Each step enforces its own named budgets (src/drill/config.ts); these are only a backstop.
          testTimeout: 30 * 60_000,
          hookTimeout: 30 * 60_000,
          // Drill files share one Docker engine and two cores: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
