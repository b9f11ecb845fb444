// The checks a nightly verification runs in the promoted throwaway instance: how recent the
// recovered data is (the recovery point), the user's SQL checks, the built-in ones (pg_amcheck,
// pg_dump of every database) and, last, pg_checksums over every page. They take the instance as
// the small CheckedInstance interface (a fake in the unit tests, the real container in
// verify-existing.ts) and record what they find on the run's VerifyRecord.

import type { ExecResult } from "../../containers/exec.ts";
import { budgetEnvName } from "../drill/config.ts";
import { monotonicNow, seconds } from "../support/measure.ts";
import { parsePgTimestamp } from "../support/pg-time.ts";
import { type Budget, stoppedByTimeout, underTimeout } from "../support/wait.ts";
import { causeLine } from "./cause.ts";
import { describeAge, type NightlyCheck, type NightlyCheckResult, type NightlyFreshness } from "./nightly-result.ts";
import type { VerifyRecord } from "./verify-record.ts";

/** What the checks need of the throwaway instance. */
export interface CheckedInstance {
  one<R extends Record<string, unknown>>(sql: string): Promise<R>;
  rows(sql: string): Promise<unknown[][]>;
  /** A command inside the instance's container, as the postgres user; a non-zero exit is returned, not thrown. */
  exec(argv: string[]): Promise<ExecResult>;
}

export interface InstanceCheckSettings {
  /** The user's checks (nightly.checks). */
  checks: readonly NightlyCheck[];
  builtInChecks?: { amcheck?: boolean; pgDump?: boolean };
  /** The database the checks run in, and the role they run as. */
  database: string;
  dbUser: string;
  /** Bounds each PostgreSQL tool run (pg_amcheck, pg_dump, pg_checksums) on the instance itself. */
  integrityCheck: Budget;
}

/**
 * The newest commit the recovered data holds: pg_last_committed_xact() where the server keeps
 * commit timestamps, else the user's query, else the last transaction replayed by an archive
 * recovery (a target; a recovery to the end of the WAL is a crash recovery, which keeps none).
 */
export async function readRecoveryPoint(
  instance: Pick<CheckedInstance, "one" | "rows">,
  query: string | undefined,
): Promise<{ time: Date; source: NonNullable<NightlyFreshness["recoveryPointSource"]> } | { unknown: string }> {
  const { tracked } = await instance.one<{ tracked: boolean }>("SELECT current_setting('track_commit_timestamp')::boolean AS tracked");
  if (tracked) {
    const { at } = await instance.one<{ at: string | null }>("SELECT (pg_last_committed_xact()).timestamp::text AS at");
    if (at) return { time: parsePgTimestamp(at), source: "pg_last_committed_xact" };
  }
  if (query) {
    const rows = await instance.rows(`SELECT (${query.trim().replace(/;\s*$/, "")})::timestamptz::text`);
    const value = rows[0]?.[0];
    if (typeof value !== "string") throw new Error(`recoveryPointQuery returned ${JSON.stringify(value ?? null)}, expected one timestamp`);
    return { time: parsePgTimestamp(value), source: "query" };
  }
  const { at } = await instance.one<{ at: string | null }>("SELECT pg_last_xact_replay_timestamp()::text AS at");
  if (at) return { time: parsePgTimestamp(at), source: "pg_last_xact_replay_timestamp" };
  return {
    unknown: tracked
      ? "track_commit_timestamp is on but the recovery replayed no commit (a backup-only recovery replays only the backup's own WAL); no recoveryPointQuery is configured"
      : "the recovered data has no commit timestamps (track_commit_timestamp is off) and no recoveryPointQuery is configured",
  };
}

/** The recovery point read and judged against maxRecoveryPointAgeS, before any check can commit (pg_amcheck installs its extension). */
export async function judgeRecoveryPoint(record: VerifyRecord, instance: CheckedInstance, query: string | undefined): Promise<void> {
  const point = await readRecoveryPoint(instance, query).catch((error: Error) => error);
  const { freshness } = record;
  if (point instanceof Error) {
    record.fail("freshness", `the newest commit of the recovered data could not be read: ${point.message}`);
  } else if ("time" in point) {
    freshness.recoveryPointTime = point.time.toISOString();
    freshness.recoveryPointAgeS = record.ageS(point.time);
    freshness.recoveryPointSource = point.source;
    record.progress(`recovery point ${freshness.recoveryPointTime} (${point.source}), ${describeAge(freshness.recoveryPointAgeS)} before this run`);
    record.judgeAge(
      `the newest commit the recovered data holds (${freshness.recoveryPointTime}, from ${point.source})`,
      freshness.recoveryPointAgeS,
      "maxRecoveryPointAgeS",
    );
  } else {
    record.progress(`recovery point unknown: ${point.unknown}`);
    if (record.context.freshnessObjectives?.maxRecoveryPointAgeS !== undefined)
      record.notFresh(`the objective maxRecoveryPointAgeS cannot be judged: ${point.unknown}`);
  }
}

/** The user's checks, the built-in ones, then pg_checksums (it needs the server stopped); each failure recorded. Returns the time they took. */
export async function runInstanceChecks(record: VerifyRecord, instance: CheckedInstance, settings: InstanceCheckSettings): Promise<number> {
  const t = monotonicNow();
  const { checks } = record;
  for (const check of settings.checks) checks.push(await runQueryCheck(record, instance, check));
  if (settings.builtInChecks?.amcheck) checks.push(await runIntegrityCheck(record, instance, settings, "amcheck"));
  if (settings.builtInChecks?.pgDump) checks.push(await runIntegrityCheck(record, instance, settings, "pg_dump"));
  // Last, as it needs the server shut down cleanly: every page of every file against its checksum.
  const pageChecks = await runPageChecksums(record, instance, settings.integrityCheck);
  if (pageChecks) checks.push(pageChecks);
  for (const c of checks.filter((c) => !c.ok)) {
    record.fail(
      "verification",
      c.kind !== "query"
        ? `${c.name} failed: ${c.error}`
        : c.error
          ? `check '${c.name}' could not run: ${c.error}`
          : `check '${c.name}' returned ${JSON.stringify(c.actual)}, expected ${JSON.stringify(c.expected)}`,
    );
  }
  return monotonicNow() - t;
}

/** One of the user's checks: its SQL's rows, as JSON, against the expected ones. */
export async function runQueryCheck(record: VerifyRecord, instance: CheckedInstance, check: NightlyCheck): Promise<NightlyCheckResult> {
  const t = monotonicNow();
  const actual = await instance.rows(check.sql).catch((error: Error) => error);
  const durationMs = monotonicNow() - t;
  if (actual instanceof Error) return { name: check.name, kind: "query", ok: false, expected: check.expected, actual: null, error: actual.message, durationMs };
  const ok = JSON.stringify(actual) === JSON.stringify(check.expected);
  record.progress(`check '${check.name}': ${ok ? "ok" : `got ${JSON.stringify(actual)}, expected ${JSON.stringify(check.expected)}`}`);
  return { name: check.name, kind: "query", ok, expected: check.expected, actual, durationMs };
}

/**
 * A PostgreSQL tool run inside the throwaway instance, bounded by the integrityCheck budget on
 * the instance itself: pg_amcheck verifies every table and index of every database (with
 * --heapallindexed: every heap tuple has its index entries); pg_dump reads every row of every
 * database, as a restore to a new cluster would.
 */
export async function runIntegrityCheck(
  record: VerifyRecord,
  instance: CheckedInstance,
  settings: InstanceCheckSettings,
  kind: "amcheck" | "pg_dump",
): Promise<NightlyCheckResult> {
  const { dbUser, database, integrityCheck } = settings;
  const name = kind === "amcheck" ? "pg_amcheck --heapallindexed (every database)" : "pg_dump of every database (full read)";
  const command =
    kind === "amcheck"
      ? ["pg_amcheck", "--all", "--heapallindexed", "--install-missing", "--username", dbUser, "--maintenance-db", database]
      : [
          "bash",
          "-c",
          // Every database that takes connections; a failure names its database and stops the loop.
          'set -o pipefail; psql -XAtq -U "$1" -d "$2" -c "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1" | while IFS= read -r db; do pg_dump --username "$1" --dbname "$db" --file /dev/null || { echo "pg_dump of database $db failed" >&2; exit 1; }; echo "$db"; done',
          "pg-dump-all",
          dbUser,
          database,
        ];
  record.progress(`${name}: running`);
  const t = monotonicNow();
  const result = await instance.exec(underTimeout(command, integrityCheck));
  const durationMs = monotonicNow() - t;
  const said = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-20).join("\n");
  const ok = result.exitCode === 0;
  record.progress(
    `${name}: ${ok ? "ok" : "FAILED"} in ${seconds(durationMs)}${kind === "pg_dump" && ok ? ` (${result.stdout.trim().split("\n").length} databases)` : ""}`,
  );
  if (ok) return { name, kind, ok, expected: [], actual: null, durationMs };
  const error = stoppedByTimeout(result.exitCode)
    ? `still running after ${seconds(integrityCheck.ms)} (budget ${integrityCheck.name}, ${budgetEnvName("integrityCheck")}); stopped`
    : `exit ${result.exitCode}: ${said || "(no output)"}`;
  return { name, kind, ok, expected: [], actual: null, error, durationMs };
}

/**
 * pg_checksums --check over the whole copy, where the cluster keeps data checksums: the physical
 * check that needs no manifest (a flipped byte in an rsync backup is named by file and block).
 * pg_checksums refuses a cluster that was not shut down cleanly, which every online backup's copy
 * is until its recovery ends: so it runs after the checks, once PostgreSQL has stopped (the
 * container stays up for it, stayAfterStop). undefined where checksums are off (said once).
 */
export async function runPageChecksums(record: VerifyRecord, instance: CheckedInstance, integrityCheck: Budget): Promise<NightlyCheckResult | undefined> {
  const name = "pg_checksums --check (every page)";
  const on = await instance.one<{ on: string }>("SELECT current_setting('data_checksums') AS on").catch((error: Error) => error);
  if (on instanceof Error || on.on !== "on") {
    record.progress(
      on instanceof Error
        ? `pg_checksums: data_checksums could not be read: ${on.message}`
        : "pg_checksums: not run, this cluster has no data checksums (initdb --data-checksums, or pg_checksums --enable on a stopped server, turns them on)",
    );
    return undefined;
  }
  const t = monotonicNow();
  const stopped = await instance.exec(["bash", "-c", 'pg_ctl stop -D "$PGDATA" -m fast -w -t 60']);
  const result = stopped.exitCode === 0 ? await instance.exec(underTimeout(["bash", "-c", 'pg_checksums --check -D "$PGDATA"'], integrityCheck)) : stopped;
  const durationMs = monotonicNow() - t;
  const ok = result.exitCode === 0;
  const said = (result.stderr.trim() || result.stdout.trim()).split("\n");
  const failure = result === stopped ? `the server could not be shut down for it: ${said.join(" ")}` : said.slice(0, 20).join("\n");
  record.progress(`${name}: ${ok ? `ok in ${seconds(durationMs)} (${said.find((l) => /Blocks scanned/.test(l)) ?? ""})` : `FAILED: ${causeLine(failure)}`}`);
  return { name, kind: "pg_checksums", ok, expected: [], actual: null, ...(ok ? {} : { error: failure }), durationMs };
}
