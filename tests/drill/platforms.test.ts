// Scenario 12 with every recovery target on the PostgreSQL and Barman versions teams run, one
// ordered suite per pair (the default pair runs in recovery-targets.test.ts). Where a version
// behaves differently, the assertions layer says so (src/asserts/drill-asserts.ts).
// PGDRILL_PLATFORMS=pg17-barman3.13,... chooses the pairs.

import { CI_PAIRS, platformName, resolvePlatform } from "../../containers/platforms.ts";
import { readSettings, TARGET_KINDS } from "../../src/drill/config.ts";
import { loadDrillConfig } from "../../src/drill/drill-config.ts";
import { defineDrillSuite, everyTargetAtOnce } from "../../src/suite/drill-suite.ts";

const loaded = everyTargetAtOnce(await loadDrillConfig({ path: "fixtures/scenario-12.config.ts" }));
const chosen = process.env["PGDRILL_PLATFORMS"]?.split(",").map((name) => resolvePlatform({ platform: name.trim() }, {})) ?? CI_PAIRS;
for (const platform of chosen) {
  defineDrillSuite({
    loaded,
    name: platformName(platform).replace(".", ""),
    source: `fixtures/scenario-12.config.ts, every target, ${platformName(platform)}`,
    targets: readSettings().targetKinds ?? [...TARGET_KINDS],
    platform,
  });
}
