// One recovery: `barman recover` to a target, the recovered instance started until promoted,
// its state read back. Failures carry what a DBA needs: the phase, the backup, the target and
// the server's own words.
import type { StartedDrillPostgres } from "../../containers/postgres/postgres-containers.ts";
import { monotonicNow } from "../metrics.ts";
import { readRecoveryLog, type RecoveryLogFacts } from "../recovery-log.ts";
import { describeTarget, type RecoveryTarget } from "../recovery-target.ts";
import { normalOrderCount, tableChecksum, tableCounts, type TableCounts } from "./disaster.ts";
import type { DrillEnvironment, StartedRecoveredInstance } from "./environment.ts";
import { segmentTimeline } from "../barman-output.ts";

export type RecoveryPhase = "backup verification" | "barman recover" | "instance start" | "verification";

export class RecoveryFailedError extends Error {
  constructor(
    readonly phase: RecoveryPhase,
    readonly backupId: string,
    readonly target: RecoveryTarget,
    readonly serverWords: string,
  ) {
    super(`Recovery of backup ${backupId} to ${describeTarget(target)} failed in ${phase}:\n${serverWords}`);
    this.name = "RecoveryFailedError";
  }
}

export interface RecoveredCopy {
  recoverOutput: string;
  barmanRecoverMs: number;
}

/** `barman recover` only; the instance is started separately so several copies can be made first. */
export async function recoverCopy(
  env: DrillEnvironment,
  options: { backupId: string; target: RecoveryTarget; directory: string; onLine?: (line: string) => void },
): Promise<RecoveredCopy> {
  const started = monotonicNow();
  try {
    const { output } = await env.barman.recover(options);
    return { recoverOutput: output, barmanRecoverMs: monotonicNow() - started };
  } catch (error) {
    throw new RecoveryFailedError("barman recover", options.backupId, options.target, (error as Error).message);
  }
}

export interface PromotedInstance {
  recovered: StartedRecoveredInstance;
  startUntilPromotedMs: number;
  log: RecoveryLogFacts;
}

export async function startPromoted(env: DrillEnvironment, options: { backupId: string; target: RecoveryTarget; directory: string }): Promise<PromotedInstance> {
  const started = monotonicNow();
  let recovered: StartedRecoveredInstance;
  try {
    recovered = await env.startRecoveredInstance(options.directory);
  } catch (error) {
    throw new RecoveryFailedError("instance start", options.backupId, options.target, (error as Error).message);
  }
  const startUntilPromotedMs = monotonicNow() - started;
  const log = readRecoveryLog(await recovered.instance.serverLog());
  if (log.fatalLines.length > 0 || !log.promoted) {
    throw new RecoveryFailedError(
      "instance start",
      options.backupId,
      options.target,
      `the recovered instance ${log.promoted ? "promoted but logged" : "did not promote"}: ${log.fatalLines.join("\n") || "(no FATAL line)"}`,
    );
  }
  return { recovered, startUntilPromotedMs, log };
}

export interface RecoveredState {
  counts: TableCounts;
  normalOrders: number;
  ordersChecksum: string;
  usersChecksum: string;
  inRecovery: boolean;
  timeline: number;
  verificationMs: number;
}

export async function readRecoveredState(instance: StartedDrillPostgres): Promise<RecoveredState> {
  const started = monotonicNow();
  const counts = await tableCounts(instance);
  const normalOrders = await normalOrderCount(instance);
  const ordersChecksum = await tableChecksum(instance, "orders");
  const usersChecksum = await tableChecksum(instance, "users");
  const status = await instance.one<{ in_recovery: boolean; segment: string }>(
    "SELECT pg_is_in_recovery() AS in_recovery, pg_walfile_name(pg_current_wal_lsn()) AS segment",
  );
  return {
    counts,
    normalOrders,
    ordersChecksum,
    usersChecksum,
    inRecovery: status.in_recovery,
    timeline: segmentTimeline(status.segment),
    verificationMs: monotonicNow() - started,
  };
}

export interface ExpectedRecoveredState {
  counts: TableCounts;
  ordersChecksum: string;
}

export interface RecoveryDrillResult {
  target: RecoveryTarget;
  backupId: string;
  recoverOutput: string;
  promoted: PromotedInstance;
  state: RecoveredState;
  phasesMs: { barmanRecoverMs: number; instanceStartUntilPromotedMs: number; verificationMs: number };
}

/**
 * The whole recovery as a gate runs it: verify the backup, recover, start until promoted, and
 * compare with the expected state. Anything short of an exact match is a RecoveryFailedError.
 */
export async function runRecoveryDrill(
  env: DrillEnvironment,
  options: { backupId: string; target: RecoveryTarget; directory: string; expected: ExpectedRecoveredState; primaryTimeline: number },
): Promise<RecoveryDrillResult> {
  const { backupId, target } = options;
  try {
    await env.barman.verifyBackup(backupId);
  } catch (error) {
    throw new RecoveryFailedError("backup verification", backupId, target, (error as Error).message);
  }
  const copy = await recoverCopy(env, options);
  const promoted = await startPromoted(env, options);
  const state = await readRecoveredState(promoted.recovered.instance);
  const problems: string[] = [];
  if (JSON.stringify(state.counts) !== JSON.stringify(options.expected.counts)) {
    problems.push(`row counts ${JSON.stringify(state.counts)}, expected ${JSON.stringify(options.expected.counts)}`);
  }
  if (state.ordersChecksum !== options.expected.ordersChecksum) {
    problems.push(`orders checksum ${state.ordersChecksum}, expected ${options.expected.ordersChecksum}`);
  }
  if (state.inRecovery) problems.push("the instance is still in recovery");
  if (state.timeline <= options.primaryTimeline) problems.push(`timeline ${state.timeline}, expected a new one after ${options.primaryTimeline}`);
  if (problems.length > 0) {
    throw new RecoveryFailedError("verification", backupId, target, `the recovered instance does not hold the expected data: ${problems.join("; ")}`);
  }
  return {
    target,
    backupId,
    recoverOutput: copy.recoverOutput,
    promoted,
    state,
    phasesMs: { barmanRecoverMs: copy.barmanRecoverMs, instanceStartUntilPromotedMs: promoted.startUntilPromotedMs, verificationMs: state.verificationMs },
  };
}
