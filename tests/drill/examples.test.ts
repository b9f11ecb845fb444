// Every configuration in examples/ as the same twelve ordered steps, one describe each: the
// engine runs drills that differ from the seed in kind (schemas, DDL disasters, pgbench, rsync
// backups, archive_command only).
import { existsSync, readdirSync } from "node:fs";
import { loadDrillConfig } from "../../src/drill/drill-config.ts";
import { defineDrillSuite } from "../../src/suite/drill-suite.ts";

// A drill example is a folder with a pgdrill.config.ts (examples/nightly-scheduling holds scheduling
// files for the nightly verification, checked in tests/unit/ci-files.test.ts).
const examples = readdirSync("examples", { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(`examples/${entry.name}/pgdrill.config.ts`))
  .map((entry) => entry.name)
  .sort();
for (const example of examples) {
  const path = `examples/${example}/pgdrill.config.ts`;
  defineDrillSuite({ loaded: await loadDrillConfig({ path }), name: `ex-${example.slice(0, 20)}`, source: path });
}
