// Scenario 12 with every recovery target on the PostgreSQL and Barman versions teams run, one
// ordered suite per pair (the default pair runs in recovery-targets.test.ts). Where a version
// behaves differently, the assertions layer says so (src/asserts/drill-asserts.ts).
// PGDRILL_PLATFORMS=pg17-barman3.13,... chooses the pairs.

import { CI_PAIRS, platformName, resolvePlatform } from "../../containers/platforms.ts";
import { readSettings, TARGET_KINDS } from "../../src/config.ts";
import { loadDrillConfig } from "../../src/drill-config.ts";
import { defineDrillSuite } from "../support/drill-suite.ts";

const fixture = await loadDrillConfig({ path: "fixtures/scenario-12.config.ts" });
// What this matrix proves is that each version pair recovers to every target; speed is the
// benchmark's business (npm run bench). Seven instances start at once here on two cores, so the
// fixture's RTO objectives (instance start 10 s) would turn a version's step red for load alone
// (seen: 10.07 s on a busy run). The objectives' judgement itself is proven in
// objectives-gate.test.ts and by the drill's own default objectives.
const loaded = {
  ...fixture,
  config: {
    ...fixture.config,
    objectives: { ...fixture.config.objectives, rtoBarmanRecoverS: 120, rtoInstanceStartS: 120, rtoVerificationS: 120, rtoTotalS: 600 },
  },
};
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
