// What is right in Scenario 13, checked from the engine's results (src/engine/full-dr.ts). Pure.

import type { WalMode } from "../drill/drill-config.ts";
import type { DataLoss } from "../scenario-13/data-loss.ts";
import { type Check, checkEqual, checkThat } from "./check.ts";

/** Step 6: the loss, judged where it can first be known. */
export function dataLossChecks(loss: DataLoss, options: { walMode: WalMode; rpoCommits: number; rpoSeconds: number }): Check[] {
  const checks: Check[] = [
    checkThat("acknowledged commits before the loss", loss.acknowledged, loss.acknowledged > 0, "at least one (else nothing was measured)"),
    // Replay never skips a commit: a missing commit older than one that is present means damaged data.
    checkEqual("acknowledged commits missing from the new primary although a later one is present", loss.holes, []),
  ];
  if (options.walMode === "synchronous") {
    // Not an objective: synchronous streaming to Barman promises exactly this.
    checks.push(
      checkEqual("acknowledged commits lost with synchronous WAL streaming", loss.lost.count, 0, "Barman acknowledging every commit before the application"),
    );
  } else {
    checks.push(
      checkThat(
        "acknowledged commits lost",
        loss.lost.count,
        loss.lost.count <= options.rpoCommits,
        `at most ${options.rpoCommits} (fullDr.objectives.rpoCommits)`,
      ),
      checkThat(
        "seconds of acknowledged work lost",
        Number(loss.rpoSeconds.toFixed(3)),
        loss.rpoSeconds - options.rpoSeconds <= 1e-6,
        `at most ${options.rpoSeconds} s (fullDr.objectives.rpoSeconds)`,
      ),
    );
  }
  return checks;
}

/**
 * Step 7, before the switch: between the first failure and the switch every attempt must have
 * failed. An answer in that window came from something at the old address (split brain).
 */
export function fencedWindowChecks(acknowledgedInWindow: number[]): Check[] {
  return [checkEqual("commits acknowledged between the loss and the switchover (something answering at the old address)", acknowledgedInWindow, [])];
}

/** Step 4: the application noticed, in order: a last acknowledged commit, then a failure. */
export function detectionChecks(input: { lastAckId: number; firstFailureId: number; firstFailureError: string | undefined }): Check[] {
  return [
    checkThat(
      "the application's first failed attempt after the loss",
      `id ${input.firstFailureId}: ${input.firstFailureError ?? "no error text"}`,
      input.firstFailureId > input.lastAckId,
      `after its last acknowledged commit (id ${input.lastAckId})`,
    ),
  ];
}

/** Step 3: nothing of the old primary may come back. */
export function hostLossChecks(input: { containerExists: boolean; volume: string | undefined; volumeExists: boolean }): Check[] {
  return [
    checkEqual("the old primary's container exists", input.containerExists, false),
    checkThat("the old primary's data volume", input.volume ?? "none", input.volume !== undefined, "a volume of its own, destroyed with the host"),
    checkEqual(`data volume ${input.volume ?? "(none)"} exists`, input.volumeExists, false),
  ];
}

/** Step 5 and 7: a new primary on a new timeline, taking writes through the application's address. */
export function newPrimaryChecks(input: { inRecovery: boolean; timeline: number; lostTimeline: number }): Check[] {
  return [
    checkEqual("pg_is_in_recovery() on the new primary", input.inRecovery, false),
    checkThat("timeline of the new primary", input.timeline, input.timeline > input.lostTimeline, `after the lost primary's ${input.lostTimeline}`),
  ];
}

export function switchoverChecks(input: { pointsAt: string; newPrimaryHost: string; firstAckId: number; lastAckBeforeLossId: number }): Check[] {
  return [
    checkEqual("server PgBouncer sends the application to (SHOW DATABASES)", input.pointsAt, input.newPrimaryHost, "the new primary"),
    checkThat(
      "first commit acknowledged after the switch",
      `id ${input.firstAckId}`,
      input.firstAckId > input.lastAckBeforeLossId,
      `a new id after the last one before the loss (${input.lastAckBeforeLossId})`,
    ),
  ];
}

/** Step 8: Barman follows the new primary. */
export function barmanFollowsChecks(input: {
  backupTimeline: number;
  newTimeline: number;
  backupStatus: string;
  walMode: WalMode;
  syncState?: string;
}): Check[] {
  const checks = [
    checkEqual("timeline of the new base backup", input.backupTimeline, input.newTimeline, "the new primary's"),
    checkEqual("status of the new base backup", input.backupStatus, "DONE"),
  ];
  if (input.walMode === "synchronous")
    checks.push(checkEqual("sync_state of Barman's receive-wal on the new primary", input.syncState ?? "not streaming", "sync"));
  return checks;
}
