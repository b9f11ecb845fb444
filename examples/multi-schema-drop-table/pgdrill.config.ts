// Example: an application with two schemas; the disaster is a DROP TABLE of the invoices.
// Different from the seed in kind: several schemas, a dropped table (not deleted rows), WAL
// compression in Barman and on the primary, gzip tar base backups, WAL shipped by archive_command only (no streaming),
// and three targets including "no target", which
// replays the DROP and must give back a database without the table.
import { defineDrillConfig } from "../../src/drill/drill-config.ts";

export default defineDrillConfig({
  name: "Multi-schema shop: DROP TABLE sales.invoices",
  database: "shop",
  seed: [{ file: "schema.sql" }],
  normalWork: [
    `INSERT INTO sales.invoices (customer_id, sku, quantity, issued_at)
     SELECT 1 + i % 500, 'SKU-' || (1 + i % 200), 2, timestamptz '2026-03-01 00:00:00+00' + i * interval '1 minute'
     FROM generate_series(1, 250) AS i`,
    "UPDATE inventory.products SET unit_price = unit_price * 1.10 WHERE sku LIKE 'SKU-1%'",
  ],
  disaster: ["DROP TABLE sales.invoices"],
  verify: {
    tables: ["sales.customers", "sales.invoices", "inventory.products", "inventory.stock_moves"],
    queries: [
      { name: "revenue", sql: "SELECT sum(i.quantity * p.unit_price)::text FROM sales.invoices i JOIN inventory.products p USING (sku)" },
      { name: "March invoices", sql: "SELECT count(*)::int FROM sales.invoices WHERE issued_at >= '2026-03-01'", expected: [[250]] },
    ],
  },
  expect: {
    baseline: { "sales.invoices": 20000, "sales.customers": 500, "inventory.products": 200 },
    goodState: { "sales.invoices": 20250 },
    afterDisaster: { "sales.invoices": null, "sales.customers": 500 },
  },
  targets: ["time", "name", "latest"],
  // WAL by archive_command (barman-wal-archive) only, no streaming: the other way Barman can be set
  // up; base backups as gzip-compressed tar files (backup_compression), restored through Barman's
  // staging directory and checked against their manifest where the version can read tar files.
  barman: { settings: { compression: "gzip", streaming_archiver: "off", backup_compression: "gzip" } },
  primary: { settings: { wal_compression: "on" } },
});
