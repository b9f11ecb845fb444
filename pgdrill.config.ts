// The project's drill configuration (found by convention; PGDRILL_CONFIG points elsewhere).
// This one is the seed's Scenario 12: replace the steps, tables and expectations with your own.
// Field by field: README.md, "Your own drill: pgdrill.config.ts".
import { defineDrillConfig } from "./src/drill-config.ts";

export default defineDrillConfig({
  name: "Scenario 12: accidental DELETE of all orders",
  database: "shop",
  seed: [{ file: "fixtures/01-schema.sql" }, { file: "fixtures/02-baseline.sql" }],
  normalWork: [{ file: "fixtures/03-normal-orders.sql" }],
  disaster: [{ file: "fixtures/04-disaster.sql" }],
  verify: {
    tables: ["users", "orders"],
    queries: [{ name: "normal orders", sql: "SELECT count(*)::int FROM orders WHERE product LIKE 'NORMAL_ORDER_%'", expected: [[100]] }],
  },
  expect: {
    baseline: { users: 1000, orders: 60004 },
    goodState: { users: 1000, orders: 60104 },
    afterDisaster: { users: 1000, orders: 0 },
  },
  targets: ["time"],
  barman: { serverName: "pg-primary" },
  objectives: { rtoBarmanRecoverS: 8, rtoInstanceStartS: 10, rtoVerificationS: 30, rtoTotalS: 240, rpoRows: 0 },
  nightly: {
    checks: [
      { name: "users", sql: "SELECT count(*)::int FROM users", expected: [[1000]] },
      { name: "baseline orders present", sql: "SELECT count(*) >= 60004 FROM orders", expected: [[true]] },
    ],
  },
});
