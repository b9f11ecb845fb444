// What a drill asserts, apart from what it does (src/engine): for each result of the engine, the
// checks that make it right. Pure functions of the results, unit-tested without Docker.
import type { WalCoverage } from "../../containers/barman/barman-client.ts";
import type { CheckLine } from "../barman/barman-output.ts";
import type { RecoveryTarget } from "../barman/recovery-target.ts";
import type { TargetKindName } from "../drill/config.ts";
import type { PrimaryLayout } from "../drill/drill-config.ts";
import type { ConfigurationPlace, DrillFacts, DrillPlan } from "../engine/phases.ts";
import type { RecoveredCopy, RecoveredState } from "../engine/recovery-phases.ts";
import type { TableSnapshot } from "../engine/row-digest.ts";
import type { RecoveryLogFacts } from "../postgres/recovery-log.ts";
import { parsePgTimestamp } from "../support/pg-time.ts";
import { type Check, checkEqual, checkThat } from "./check.ts";

export type Checkpoint = "baseline" | "goodState" | "afterDisaster";

export const CHECKPOINT_NAMES: Record<Checkpoint, string> = {
  baseline: "the baseline (the state the backup holds)",
  goodState: "the good state",
  afterDisaster: "the state after the disaster",
};

/** Which checkpoint's state a recovery to `kind` must give back. */
export function expectedCheckpoint(kind: TargetKindName): Checkpoint {
  switch (kind) {
    case "immediate":
      return "baseline";
    case "xid-inclusive":
    case "latest":
      return "afterDisaster";
    default:
      return "goodState";
  }
}

/**
 * Archive recovery to a target ends with a promotion to a new timeline. Without a target, Barman
 * 3.4 puts the WAL in pg_wal and writes no recovery.signal: PostgreSQL replays it as crash
 * recovery and stays on the backup's timeline.
 */
export function expectedTimeline(kind: TargetKindName): "new" | "same" {
  return kind === "latest" ? "same" : "new";
}

/** Row counts the configuration expects at a checkpoint (config.expect), checked on a snapshot. */
export function countChecks(where: string, expected: Record<string, number | null> | undefined, snapshot: TableSnapshot, source: string): Check[] {
  return Object.entries(expected ?? {}).map(([table, rows]) => {
    const got = snapshot[table];
    return checkEqual(`${table} rows on ${where}`, got === undefined ? "not in verify.tables" : got === null ? null : got.rows, rows, source);
  });
}

/** Every table of `actual` equal to `expected`: rows and the digest of every row. */
export function snapshotChecks(where: string, expected: TableSnapshot, actual: TableSnapshot, expectedFrom: string): Check[] {
  return Object.entries(expected).flatMap(([table, want]) => {
    const got = actual[table];
    if (want === null || got === null || got === undefined)
      return [checkEqual(`${table} on ${where}`, got ?? null, want === null ? null : `${want.rows} rows`, expectedFrom)];
    return [
      checkEqual(`${table} rows on ${where}`, got.rows, want.rows, expectedFrom),
      checkEqual(`${table} content digest on ${where}`, got.checksum, want.checksum, expectedFrom),
    ];
  });
}

/** The disaster changed something: otherwise a recovery proves nothing. */
export function disasterChecks(facts: { goodState: TableSnapshot; afterDisaster: TableSnapshot }): Check[] {
  const changed = Object.keys(facts.goodState).filter((t) => JSON.stringify(facts.goodState[t]) !== JSON.stringify(facts.afterDisaster[t]));
  return [
    checkThat("tables the disaster changed", changed.length ? changed.join(", ") : "none", changed.length > 0, "at least one (else the drill proves nothing)"),
  ];
}

/** `barman check` lines the configured WAL paths and backup method must show, and every line OK. */
export function barmanCheckChecks(lines: CheckLine[], plan: Pick<DrillPlan, "walPaths" | "barmanSettings">): Check[] {
  const wanted = ["archive mode", "archive command", "continuous archiving"];
  if (plan.walPaths.streaming) wanted.push("receive wal running", "replication slot");
  wanted.push((plan.barmanSettings["backup_method"] ?? "postgres") === "rsync" ? "ssh" : "pg basebackup");
  const names = lines.map((l) => l.check);
  const failed = lines.filter((l) => !l.ok).map((l) => `${l.check}: FAILED${l.hint ? ` (${l.hint})` : ""}`);
  return [
    checkEqual(
      "barman check lines for the configured WAL paths and backup method",
      wanted.filter((w) => names.includes(w)),
      wanted,
    ),
    checkEqual(`barman check lines failed (of ${lines.length})`, failed, []),
  ];
}

/** Every WAL segment from the backup's start to what the targets need, in Barman's archive. */
export function walCoverageChecks(coverage: WalCoverage): Check[] {
  return [
    checkEqual(
      `WAL segments missing from Barman's archive between ${coverage.from} and ${coverage.through} (${coverage.segmentsChecked} checked)`,
      coverage.missing,
      [],
    ),
  ];
}

/** A time target must lie after the backup's end: Barman refuses one before it. */
export function targetAfterBackupChecks(target: RecoveryTarget, backupEnd: Date): Check[] {
  if (target.kind !== "time") return [];
  const at = parsePgTimestamp(target.time);
  return [checkThat("recovery target time", target.time, at.getTime() > backupEnd.getTime(), `after the backup's end ${backupEnd.toISOString()}`)];
}

/**
 * The same timestamp, however written: Barman 3.13 and later write "+00:00" where PostgreSQL said
 * "+00", and PostgreSQL drops a fraction's trailing zeros (".65973" is ".659730").
 */
export function sameTimestamp(a: string, b: string): boolean {
  const normal = (t: string): string | undefined => {
    const m = /^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?([+-]\d\d)(?::?(\d\d))?$/.exec(t.trim());
    return m ? `${m[1]!.replace("T", " ")}.${(m[2] ?? "").padEnd(6, "0")}${m[3]}:${m[4] ?? "00"}` : undefined;
  };
  const [x, y] = [normal(a), normal(b)];
  return x !== undefined && x === y;
}

/** What Barman must have written for PostgreSQL: the restore command, the target, and no archiving from the copy. */
export function recoveredCopyChecks(copy: Pick<RecoveredCopy, "autoConf" | "recoverySignal">, target: RecoveryTarget): Check[] {
  const setting = (name: string): string | undefined => new RegExp(`^${name} = '?(.*?)'?$`, "m").exec(copy.autoConf)?.[1];
  const checks: Check[] = [
    checkEqual("archive_command in the recovered copy", setting("archive_command") ?? "missing", "false", "what Barman writes to protect the archive"),
  ];
  // Without a target, Barman 3.4 copies the WAL into pg_wal and writes no recovery settings at all.
  if (target.kind !== "latest") {
    checks.push(
      checkThat("restore_command in postgresql.auto.conf", setting("restore_command") ?? "missing", Boolean(setting("restore_command")), "set by Barman"),
    );
  }
  const targetSetting: Partial<Record<RecoveryTarget["kind"], [string, string]>> = {
    time: ["recovery_target_time", target.kind === "time" ? target.time : ""],
    name: ["recovery_target_name", target.kind === "name" ? target.name : ""],
    xid: ["recovery_target_xid", target.kind === "xid" ? String(target.xid) : ""],
    lsn: ["recovery_target_lsn", target.kind === "lsn" ? target.lsn : ""],
    immediate: ["recovery_target", "immediate"],
  };
  const wanted = targetSetting[target.kind];
  if (wanted) {
    const written = setting(wanted[0]);
    if (target.kind === "time" && written !== undefined) {
      // Barman writes the time in its own format (3.13: "+00:00" where PostgreSQL said "+00"): the same instant is what counts.
      checks.push(checkThat(`${wanted[0]} in postgresql.auto.conf`, written, sameTimestamp(written, target.time), `the requested target ${target.time}`));
    } else {
      checks.push(checkEqual(`${wanted[0]} in postgresql.auto.conf`, written ?? "missing", wanted[1], "the requested target"));
    }
    checks.push(checkEqual("recovery_target_action in postgresql.auto.conf", setting("recovery_target_action") ?? "missing", "promote"));
    checks.push(checkEqual("recovery.signal in the recovered copy", copy.recoverySignal, true));
  }
  return checks;
}

/** The recovered instance started cleanly, announced its target and promoted. */
export function promotionChecks(log: RecoveryLogFacts, kind: TargetKindName): Check[] {
  const checks = [
    checkEqual("FATAL/PANIC lines in the recovered instance's log", log.fatalLines, []),
    checkEqual("recovered instance promoted", log.promoted, true),
  ];
  if (kind !== "latest") checks.push(checkThat("recovery target announced by PostgreSQL", log.pitrTarget ?? "none", log.pitrTarget !== undefined, "one"));
  return checks;
}

/** Where PostgreSQL must say it stopped, per target kind. */
export function stopLineCheck(kind: TargetKindName, facts: Pick<DrillFacts, "disaster" | "goodState">, recoveryLines: string[]): Check {
  const log = recoveryLines.join("\n");
  const found = (pattern: RegExp): string => pattern.exec(log)?.[0] ?? "no such line";
  const xid = facts.disaster.xid;
  switch (kind) {
    case "time": {
      // The first commit after the target time: the disaster's, unless a background transaction (autoanalyze) committed between them.
      const line = /recovery stopping before (commit|abort) of transaction (\d+)/.exec(log);
      const stoppedAt = line ? Number(line[2]) : undefined;
      return checkThat(
        "where recovery stopped",
        line?.[0] ?? "no stop line",
        stoppedAt !== undefined && stoppedAt <= xid,
        `at or before the disaster's commit (transaction ${xid})`,
      );
    }
    case "xid-exclusive":
      return checkEqual(
        "where recovery stopped",
        found(/recovery stopping before commit of transaction \d+/),
        `recovery stopping before commit of transaction ${xid}`,
        "the disaster's transaction",
      );
    case "xid-inclusive":
      return checkEqual(
        "where recovery stopped",
        found(/recovery stopping after commit of transaction \d+/),
        `recovery stopping after commit of transaction ${xid}`,
        "the disaster's transaction",
      );
    case "name":
      return checkEqual(
        "where recovery stopped",
        found(/recovery stopping at restore point "[^"]*"/),
        `recovery stopping at restore point "${facts.goodState.restorePoint}"`,
      );
    case "lsn":
      return checkEqual(
        "where recovery stopped",
        found(/recovery stopping after WAL location \(LSN\) "[^"]*"/),
        `recovery stopping after WAL location (LSN) "${facts.goodState.restorePointLsn}"`,
      );
    case "immediate":
      return checkEqual("where recovery stopped", found(/recovery stopping after reaching consistency/), "recovery stopping after reaching consistency");
    case "latest":
      return checkEqual("recovery stop line (none without a target: the whole archive replayed)", found(/recovery stopping[^\n]*/), "no such line");
  }
}

/** The recovered instance holds exactly its checkpoint's state, left recovery, and is on the timeline its target gives. */
export function recoveredStateChecks(input: {
  kind: TargetKindName;
  plan: Pick<DrillPlan, "queries">;
  checkpoints: Record<Checkpoint, TableSnapshot>;
  goodStateQueries: Record<string, unknown[][]>;
  state: RecoveredState;
  primaryTimeline: number;
}): Check[] {
  const checkpoint = expectedCheckpoint(input.kind);
  const where = "the recovered instance";
  const checks = snapshotChecks(where, input.checkpoints[checkpoint], input.state.snapshot, CHECKPOINT_NAMES[checkpoint]);
  if (checkpoint === "goodState") {
    for (const q of input.plan.queries) {
      checks.push(
        checkEqual(
          `query '${q.name}' on ${where}`,
          input.state.queries[q.name],
          q.expected ?? input.goodStateQueries[q.name],
          q.expected ? "the configured rows" : "the primary's answer at the good state",
        ),
      );
    }
  }
  checks.push(checkEqual(`${where} in recovery`, input.state.inRecovery, false));
  checks.push(
    expectedTimeline(input.kind) === "new"
      ? checkThat(
          `${where}'s timeline`,
          input.state.timeline,
          input.state.timeline > input.primaryTimeline,
          `a new one after the primary's ${input.primaryTimeline}`,
        )
      : checkEqual(`${where}'s timeline (crash recovery stays on the backup's)`, input.state.timeline, input.primaryTimeline),
  );
  return checks;
}

/**
 * The server reads the configuration its layout says: Debian's (pg_createcluster) in
 * /etc/postgresql/<major>/main, whatever the data directory; the official image's inside PGDATA.
 * A recovered instance of a Debian primary that read the copy's own postgresql.conf would point at
 * production's paths (data_directory, hba_file): this is where that would show.
 */
export function configurationPlaceChecks(where: string, layout: PrimaryLayout, postgresMajor: string, place: ConfigurationPlace): Check[] {
  const expected = layout === "debian" ? `/etc/postgresql/${postgresMajor}/main/postgresql.conf` : `${place.dataDirectory}/postgresql.conf`;
  return [checkEqual(`${where}: configuration file (layout ${layout}, data in ${place.dataDirectory})`, place.configFile, expected)];
}
