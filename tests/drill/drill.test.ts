// `npm run drill`: the project's configuration (pgdrill.config.ts, or PGDRILL_CONFIG) as twelve
// ordered steps. By default that is the seed's Scenario 12.
import { loadDrillConfig } from "../../src/drill-config.ts";
import { defineDrillSuite } from "../../src/suite/drill-suite.ts";

const loaded = await loadDrillConfig();
defineDrillSuite({ loaded, name: "drill", source: process.env["PGDRILL_CONFIG"] ?? "pgdrill.config.ts" });
