// The one row digest: what "the same data" means everywhere in the suite (a table's rows counted
// and every row's text hashed in a stable order), on the primary, on a recovered instance, in a
// nightly check. Counts alone hide wrong rows; a digest does not.
import type { SqlSession } from "../../containers/postgres/sql-session.ts";

/** Per table: rows and a digest of every row, or null where the table does not exist. */
export type TableSnapshot = Record<string, { rows: number; checksum: string } | null>;

/** md5 of the empty string: the digest of an empty table. */
export const EMPTY_TABLE_CHECKSUM = "d41d8cd98f00b204e9800998ecf8427e";

export const quoteIdentifier = (name: string): string =>
  name
    .split(".")
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join(".");

/**
 * Rows and digest of one table in one query. Ordered by the row's text, so tables without a key
 * digest the same way every time; the same SQL serves as a nightly check.
 */
export function rowDigestSql(table: string): string {
  return `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS checksum FROM ${quoteIdentifier(table)} t`;
}

export async function snapshotTables(db: SqlSession, tables: string[]): Promise<TableSnapshot> {
  const snapshot: TableSnapshot = {};
  for (const table of tables) {
    const { present } = await db.one<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [quoteIdentifier(table)]);
    snapshot[table] = present ? await db.one<{ rows: number; checksum: string }>(rowDigestSql(table)) : null;
  }
  return snapshot;
}

/** One sentence per table that differs; empty when `actual` holds exactly `expected`. */
export function compareSnapshots(expected: TableSnapshot, actual: TableSnapshot): string[] {
  const problems: string[] = [];
  for (const [table, want] of Object.entries(expected)) {
    const got = actual[table];
    if (want === null && got !== null && got !== undefined) problems.push(`${table}: exists with ${got.rows} rows, expected it absent`);
    else if (want !== null && (got === null || got === undefined)) problems.push(`${table}: missing, expected ${want.rows} rows`);
    else if (want && got && want.rows !== got.rows) problems.push(`${table}: ${got.rows} rows, expected ${want.rows}`);
    else if (want && got && want.checksum !== got.checksum)
      problems.push(`${table}: same ${got.rows} rows but different content (checksum ${got.checksum}, expected ${want.checksum})`);
  }
  return problems;
}

/** Rows of each table in `before` that `after` no longer has (a table gone counts all its rows). */
export function rowsLost(before: TableSnapshot, after: TableSnapshot): Record<string, number> {
  const lost: Record<string, number> = {};
  for (const [table, was] of Object.entries(before)) {
    if (!was) continue;
    const now = after[table]?.rows ?? 0;
    if (now < was.rows) lost[table] = was.rows - now;
  }
  return lost;
}

/** Tables whose content differs between two snapshots: what a disaster touched. */
export function changedTables(before: TableSnapshot, after: TableSnapshot): string[] {
  return Object.keys(before).filter((table) => JSON.stringify(before[table]) !== JSON.stringify(after[table]));
}
