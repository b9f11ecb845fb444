// The PostgreSQL roles Barman connects as, as Barman's documentation sets them up ("Preliminary
// steps", PostgreSQL 15 and later): `barman` for backups without superuser, `streaming_barman` for
// WAL streaming. One list for the drill's primary (src/engine/topology.ts) and for the clusters of
// the hand-built Debian hosts (tests/support/barman-docs-host.ts).

/** What the non-superuser `barman` role is granted: the backup functions, the WAL switch, restore points, reading settings and statistics, and pg_checkpoint (switch-wal --force). */
export const BARMAN_ROLE_GRANTS = [
  "GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO barman",
  "GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) TO barman",
  "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO barman",
  "GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO barman",
  "GRANT pg_read_all_settings TO barman",
  "GRANT pg_read_all_stats TO barman",
  "GRANT pg_checkpoint TO barman",
] as const;

/** A string as an SQL literal (standard_conforming_strings, on since PostgreSQL 9.1: only ' is doubled). */
export const sqlLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** The statements that create both roles with their passwords, in order. */
export function barmanRoleStatements(passwords: { barman: string; streaming: string }): string[] {
  return [
    `CREATE ROLE barman LOGIN PASSWORD ${sqlLiteral(passwords.barman)}`,
    ...BARMAN_ROLE_GRANTS,
    `CREATE ROLE streaming_barman LOGIN REPLICATION PASSWORD ${sqlLiteral(passwords.streaming)}`,
  ];
}
