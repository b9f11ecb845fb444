// The drill of a configuration as twelve ordered Vitest tests: the configuration named by
// PGDRILL_CONFIG, else pgdrill.config.ts in the working directory. The repository's
// tests/drill/drill.test.ts (`npm run drill`) and the packaged `pgdrill drill` run this same file.
import { loadDrillConfig } from "../drill/drill-config.ts";
import { defineDrillSuite } from "./drill-suite.ts";

const loaded = await loadDrillConfig();
defineDrillSuite({ loaded, name: "drill", source: process.env["PGDRILL_CONFIG"] ?? "pgdrill.config.ts" });
