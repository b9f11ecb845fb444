// What one server's nightly verification has found so far: the typed state every phase of the
// pipeline (verify-existing.ts, backup-phases.ts, instance-checks.ts) reads and adds to, and the
// one way a phase records a failure, a missed freshness objective or an interruption. Pure: no
// Barman, no Docker, so the phases' judgements are unit-tested on it (tests/unit/nightly-phases.test.ts).

import type { BackupStorage, WalCoverage } from "../../containers/barman/barman-client.ts";
import type { BackupDetails } from "../barman/barman-output.ts";
import { describeTarget, type RecoveryTarget } from "../barman/recovery-target.ts";
import { type CauseClass, causeFirst, causeLine, causeOf } from "./cause.ts";
import {
  type BackupVerification,
  describeAge,
  type FreshnessObjectives,
  type NightlyCheckResult,
  type NightlyPhase,
  type NightlyPhasesMs,
  type NotVerifiedReason,
  notReachedVerification,
  unknownFreshness,
} from "./nightly-result.ts";
import type { ConfigChange } from "./throwaway-config.ts";

export interface VerifyRecordContext {
  server: string;
  /** The backup asked for ("latest" or an id): named in a failure before one is selected. */
  backupWanted: string;
  target: RecoveryTarget;
  freshnessObjectives: FreshnessObjectives | undefined;
  progress: (line: string) => void;
  signal?: AbortSignal;
  startedAt: Date;
}

export class VerifyRecord {
  readonly phasesMs: NightlyPhasesMs = {
    verifyBackupMs: null,
    barmanRecoverMs: null,
    transferMs: null,
    instanceStartUntilPromotedMs: null,
    verificationMs: null,
  };
  readonly problems: string[] = [];
  readonly checks: NightlyCheckResult[] = [];
  readonly freshness;
  /**
   * Freshness objectives missed, said at once and recorded after the run (recordStaleness): a stale
   * backup that also fails to restore is first of all a backup that fails to restore.
   */
  readonly stale: string[] = [];
  backup: BackupDetails | undefined;
  workDirectory: string | undefined;
  /** The throwaway instance's image, chosen for the backup's major version. */
  image = "";
  /** The phase under way, so that an unexpected error is still reported against it. */
  current: NightlyPhase = "backup selection";
  failedPhase: NightlyPhase | undefined;
  cause: CauseClass | null = null;
  wasInterrupted = false;
  transferredBytes: number | null = null;
  backupVerification: BackupVerification = notReachedVerification();
  walContinuity: WalCoverage | null = null;
  storage: BackupStorage | null = null;
  configurationChanges: ConfigChange[] = [];
  swept: Array<{ directory: string; why: string }> = [];
  /** The restored copy is checked against its manifest in the throwaway instance, because Barman could not check the backup itself (why, and Barman's words). */
  verifyCopy: { reason: NotVerifiedReason; said: string } | undefined;

  constructor(readonly context: VerifyRecordContext) {
    this.freshness = unknownFreshness(context.startedAt.toISOString());
  }

  progress(line: string): void {
    this.context.progress(line);
  }

  /** A problem: its cause line first, at most ~20 lines (every command's whole output stays in barmanCommands). */
  fail(phase: NightlyPhase, what: string): void {
    const which = `backup ${this.backup ? this.backup.backupId : this.context.backupWanted}`;
    if (this.failedPhase === undefined) this.cause = causeOf(what);
    this.failedPhase ??= phase;
    const shown = causeFirst(what, { wholeTextIn: "the JSON report's barmanCommands" });
    this.problems.push(`${phase} failed for ${which} of server '${this.context.server}', target ${describeTarget(this.context.target)}: ${shown}`);
    this.progress(`FAILED in ${phase}: ${causeLine(what)}`);
  }

  /** `phase` begins; true (and the problem recorded) when the run was asked to stop before it. */
  enter(phase: NightlyPhase): boolean {
    this.current = phase;
    const signal = this.context.signal;
    if (!signal?.aborted) return false;
    this.wasInterrupted = true;
    this.fail(phase, `interrupted (${String(signal.reason ?? "aborted")}) before this phase; what ran so far has been cleaned up`);
    return true;
  }

  /** Seconds from `time` to the start of this run, to a tenth. */
  ageS(time: Date): number {
    return Math.round((this.context.startedAt.getTime() - time.getTime()) / 100) / 10;
  }

  notFresh(what: string): void {
    this.stale.push(what);
    this.progress(`NOT FRESH: ${what}`);
  }

  /** One freshness objective: a sentence with the age and the objective when it is exceeded. */
  judgeAge(what: string, age: number, objective: keyof FreshnessObjectives): void {
    const limit = this.context.freshnessObjectives?.[objective];
    if (limit !== undefined && age > limit)
      this.notFresh(`${what} is ${describeAge(age)} old, older than the objective ${objective} = ${describeAge(limit)} (${limit} s)`);
  }

  /** After the run: the missed freshness objectives become problems (after any failure of the recovery itself). */
  recordStaleness(): void {
    for (const what of this.stale) this.fail("freshness", what);
  }
}
