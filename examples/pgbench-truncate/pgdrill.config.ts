// Example: a workload driven by pgbench, PostgreSQL's own benchmark tool; the disaster is a
// TRUNCATE of the accounts. Different from the seed in kind: data and normal work come from a
// program run on the primary, the history table has no key (compared by content all the same),
// Barman takes file-level backups with rsync over SSH instead of pg_basebackup, the primary is a
// Debian cluster made with pg_createcluster (configuration in /etc/postgresql/<major>/main, outside
// the data directory Barman copies), and the targets include --target-xid and --target-immediate.
import { defineDrillConfig } from "../../src/drill/drill-config.ts";

export default defineDrillConfig({
  name: "pgbench: TRUNCATE pgbench_accounts",
  database: "bench",
  seed: [async (primary) => void (await primary.exec(["pgbench", "--initialize", "--scale=2", "--quiet"]))],
  normalWork: [async (primary) => void (await primary.exec(["pgbench", "--no-vacuum", "--transactions=200", "--client=2", "--jobs=1"]))],
  disaster: ["TRUNCATE pgbench_accounts"],
  verify: {
    tables: ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"],
    queries: [
      {
        name: "balance",
        sql: "SELECT sum(abalance)::text, sum(bbalance)::text FROM pgbench_accounts, (SELECT sum(bbalance) AS bbalance FROM pgbench_branches) b",
      },
    ],
  },
  expect: {
    baseline: { pgbench_accounts: 200000, pgbench_branches: 2, pgbench_tellers: 20, pgbench_history: 0 },
    goodState: { pgbench_accounts: 200000, pgbench_history: 400 },
    afterDisaster: { pgbench_accounts: 0, pgbench_history: 400 },
  },
  targets: ["time", "xid-exclusive", "immediate"],
  // File-level backups over SSH (rsync) instead of pg_basebackup, WAL compressed with bzip2.
  barman: { settings: { backup_method: "rsync", compression: "bzip2" } },
  // Debian's own layout, the most common production install; the recovered instances get a
  // configuration of their own under /etc/postgresql, as a recovery host set up the same way has.
  primary: { layout: "debian", settings: { shared_buffers: "64MB" } },
});
