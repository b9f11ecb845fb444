// `npm run drill`: the project's configuration (pgdrill.config.ts, or PGDRILL_CONFIG) as twelve
// ordered steps (src/suite/drill-run.ts, which `pgdrill drill` runs too). By default that is the
// seed's Scenario 12.
import "../../src/suite/drill-run.ts";
