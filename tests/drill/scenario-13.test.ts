// Scenario 13, the full disaster-recovery drill, in the three WAL modes one after the other
// (fixtures/scenario-13/), then their data loss and RTO side by side. PGDRILL_S13_MODES chooses
// modes (comma-separated), e.g. PGDRILL_S13_MODES=synchronous.
import { mkdir, writeFile } from "node:fs/promises";
import * as allure from "allure-js-commons";
import { describe, test } from "vitest";
import { checkEqual } from "../../src/asserts/check.ts";
import { loadDrillConfig, WAL_MODES, type WalMode } from "../../src/drill/drill-config.ts";
import { type FullDrMetrics, modeComparisonSvg, renderModeComparison } from "../../src/scenario-13/full-dr-metrics.ts";
import { verify } from "../../src/suite/verify.ts";
import { defineFullDrSuite, type FullDrResults } from "../support/full-dr-suite.ts";

const chosen = (process.env["PGDRILL_S13_MODES"] ?? WAL_MODES.join(","))
  .split(",")
  .map((m) => m.trim())
  .filter(Boolean);
const unknown = chosen.filter((m) => !(WAL_MODES as readonly string[]).includes(m));
if (unknown.length > 0) throw new Error(`PGDRILL_S13_MODES: unknown WAL mode ${unknown.join(", ")}; allowed: ${WAL_MODES.join(", ")}`);
const modes = chosen as WalMode[];

const results: FullDrResults = new Map();
for (const mode of modes) {
  const path = `fixtures/scenario-13/${mode}.config.ts`;
  defineFullDrSuite({ loaded: await loadDrillConfig({ path }), name: `s13-${mode}`, source: path, results });
}

describe("Scenario 13: the WAL modes side by side", () => {
  test(`data loss and RTO of ${modes.join(", ")}`, async () => {
    await allure.epic("Disaster recovery");
    await allure.feature("Full disaster recovery (Scenario 13)");
    const measured = modes.map((m) => results.get(m)).filter((r): r is FullDrMetrics => r !== undefined && "walMode" in r);
    const table = renderModeComparison(measured);
    await allure.attachment("wal-modes.md", table, "text/markdown");
    await allure.attachment("wal-modes.svg", modeComparisonSvg(measured), "image/svg+xml");
    await mkdir("reports", { recursive: true });
    await writeFile("reports/scenario-13-comparison.json", `${JSON.stringify(measured, null, 2)}\n`);
    await writeFile("reports/scenario-13-comparison.md", `${table}\n`);
    console.log(`\nScenario 13, the WAL modes side by side:\n${table}\n`);
    await verify([
      checkEqual(
        "WAL modes without judged metrics",
        modes
          .filter((m) => !measured.some((r) => r.walMode === m))
          .map((m) => `${m}: ${(results.get(m) as { failedAt?: string } | undefined)?.failedAt ?? "did not run"}`),
        [],
      ),
    ]);
  });
});
