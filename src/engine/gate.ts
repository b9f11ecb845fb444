// Phases composed the way a gate runs them, for the drills that do not report step by step (the
// failure drills, the benchmark): the story up to the recovery in one call, and one recovery that
// either holds exactly its target's state or fails with a RecoveryFailedError naming the phase,
// the backup, the target and the server's own words. Nothing of a failed recovery is left behind.
import { failedChecks } from "../asserts/check.ts";
import { countChecks, promotionChecks, recoveredStateChecks, walCoverageChecks } from "../asserts/drill-asserts.ts";
import { segmentTimeline } from "../barman/barman-output.ts";
import type { RecoveryTarget } from "../barman/recovery-target.ts";
import type { TargetKindName } from "../drill/config.ts";
import { archiveWalThroughDisaster, backUp, causeDisaster, type DrillFacts, type DrillPlan, doNormalWork, markGoodState, seed } from "./phases.ts";
import {
  type PromotedInstance,
  type RecoveredCopy,
  type RecoveredState,
  RecoveryFailedError,
  readRecoveredState,
  recoverToTarget,
  removeRecovery,
  startUntilPromoted,
  targetOf,
  verifyBackupChain,
  walNeededThrough,
} from "./recovery-phases.ts";
import type { DrillEnvironment } from "./topology.ts";

export class DrillStateError extends Error {}

/** Steps 1-5 of a drill in one go, each checkpoint checked against config.expect. */
export async function prepareDisaster(env: DrillEnvironment, plan: DrillPlan, progress: (line: string) => void): Promise<DrillFacts> {
  const gate = (problems: string[]): void => {
    if (problems.length > 0) throw new DrillStateError(`the primary is not in the configured state:\n${problems.join("\n")}`);
  };
  const { baseline } = await seed(env, plan);
  gate(failedChecks(countChecks("the primary after the seed", plan.expect.baseline, baseline, "config.expect.baseline")));
  const { backup } = await backUp(env);
  progress(`backup ${backup.backupId} taken`);
  await doNormalWork(env, plan);
  const goodState = await markGoodState(env, plan);
  gate(failedChecks(countChecks("the primary at the good state", plan.expect.goodState, goodState.snapshot, "config.expect.goodState")));
  const disaster = await causeDisaster(env, plan);
  gate(failedChecks(countChecks("the primary after the disaster", plan.expect.afterDisaster, disaster.snapshot, "config.expect.afterDisaster")));
  const { closedSegment } = await archiveWalThroughDisaster(env);
  progress(`disaster (xid ${disaster.xid}) archived through ${closedSegment}`);
  return { baseline, backup, goodState, disaster, closedSegment };
}

export interface GatedRecovery {
  kind: TargetKindName;
  target: RecoveryTarget;
  copy: RecoveredCopy;
  promoted: PromotedInstance;
  state: RecoveredState;
}

/**
 * The whole recovery as a gate runs it: verify the backup and the WAL the target needs, recover,
 * start until promoted, compare with the target's checkpoint. `target` replaces the one `kind`
 * gives (a fault drill asks for a target that cannot work); `keep` leaves a good recovery running.
 */
export async function runGatedRecovery(
  env: DrillEnvironment,
  plan: DrillPlan,
  facts: DrillFacts,
  options: { kind: TargetKindName; target?: RecoveryTarget; directory: string; keep?: boolean; walFromBarman?: boolean; onLine?: (line: string) => void },
): Promise<GatedRecovery> {
  const { kind, directory } = options;
  const target = options.target ?? targetOf(kind, facts);
  const backupId = facts.backup.backupId;
  const fail = (phase: ConstructorParameters<typeof RecoveryFailedError>[0], words: string): never => {
    throw new RecoveryFailedError(phase, backupId, target, words);
  };
  try {
    await verifyBackupChain(env, backupId).catch((error: Error) => fail("backup verification", error.message));
    const coverage = await env.barman
      .walCoverage(facts.backup.beginWal, await walNeededThrough(env, kind, facts))
      .catch((error: Error) => fail("WAL verification", error.message));
    const missingWal = failedChecks(walCoverageChecks(coverage));
    if (missingWal.length > 0) fail("WAL verification", missingWal.join("\n"));
    const { walFromBarman } = options;
    const copy = await recoverToTarget(env, { backupId, target, directory, jobs: plan.recoverJobs, walFromBarman, onLine: options.onLine });
    const promoted = await startUntilPromoted(env, { backupId, target, directory, walFromBarman });
    const notPromoted = failedChecks(promotionChecks(promoted.log, kind));
    if (notPromoted.length > 0) fail("instance start", notPromoted.join("\n"));
    const state = await readRecoveredState(promoted.instance, plan);
    const checkpoints = { baseline: facts.baseline, goodState: facts.goodState.snapshot, afterDisaster: facts.disaster.snapshot };
    const wrong = failedChecks(
      recoveredStateChecks({
        kind,
        plan,
        checkpoints,
        goodStateQueries: facts.goodState.queries,
        state,
        primaryTimeline: segmentTimeline(facts.closedSegment),
      }),
    );
    if (wrong.length > 0) fail("verification", `the recovered instance does not hold the expected data:\n${wrong.join("\n")}`);
    if (!options.keep) await removeRecovery(env, directory);
    return { kind, target, copy, promoted, state };
  } catch (error) {
    await removeRecovery(env, directory).catch(() => undefined);
    throw error;
  }
}
