// Every recovery target on the Scenario 12 disaster: one backup, one recovery per target, each
// compared with the exact state its target must give back, in the same twelve ordered steps.
// PGDRILL_TARGET_KINDS chooses a subset.
import { readSettings, TARGET_KINDS } from "../../src/drill/config.ts";
import { loadDrillConfig } from "../../src/drill/drill-config.ts";
import { defineDrillSuite, everyTargetAtOnce } from "../../src/suite/drill-suite.ts";

const loaded = everyTargetAtOnce(await loadDrillConfig({ path: "fixtures/scenario-12.config.ts" }));
defineDrillSuite({ loaded, name: "targets", source: "fixtures/scenario-12.config.ts, every target", targets: readSettings().targetKinds ?? [...TARGET_KINDS] });
