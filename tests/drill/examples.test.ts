// Every configuration in examples/ as the same twelve ordered steps, one describe each: the
// engine runs drills that differ from the seed in kind (schemas, DDL disasters, pgbench, rsync
// backups, archive_command only).
import { readdirSync } from "node:fs";
import { loadDrillConfig } from "../../src/drill-config.ts";
import { defineDrillSuite } from "../support/drill-suite.ts";

const examples = readdirSync("examples", { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
for (const example of examples) {
  const path = `examples/${example}/pgdrill.config.ts`;
  defineDrillSuite({ loaded: await loadDrillConfig({ path }), name: `ex-${example.slice(0, 20)}`, source: path });
}
