// Data loss measured in commits (Scenario 13): the workload's own log of acknowledged commits
// against the ids the recovered instance holds. Pure: no clock, no database.
import { parsePgTimestamp } from "../support/pg-time.ts";

/** One attempt of the steady writer (src/engine/workload.ts). */
export interface WorkloadAttempt {
  id: number;
  /** acked: the server answered the autocommit INSERT, i.e. acknowledged its commit. */
  outcome: "acked" | "failed";
  /** The row's written_at as the server returned it (acknowledged attempts only). */
  serverTime?: string;
  /** Client monotonic clock, ms: when the attempt was sent and when its answer (or error) came. */
  sentAtMs: number;
  doneAtMs: number;
  error?: string;
}

export interface DataLoss {
  /** Acknowledged commits sent to the lost primary. */
  acknowledged: number;
  /** Acknowledged commits the recovered instance does not hold. */
  lost: { count: number; firstId?: number; lastId?: number; firstServerTime?: string; lastServerTime?: string; spanSeconds: number };
  /**
   * Seconds of acknowledged work lost: server time of the last acknowledged commit minus that of
   * the last acknowledged commit the recovered instance holds (0 when nothing was lost).
   */
  rpoSeconds: number;
  /** Rows the recovered instance holds whose commit the client never saw acknowledged (in flight at the loss): reported, not lost. */
  unacknowledgedButRecovered: { count: number; ids: number[] };
  /** The newest acknowledged commit the recovered instance holds. */
  lastRecovered?: { id: number; serverTime: string };
  /**
   * Acknowledged commits missing from the recovered instance that are older than a commit it does
   * hold: WAL replay never skips a commit, so any of these means the recovered data is damaged.
   */
  holes: number[];
}

const secondsBetween = (from: string, to: string): number => (parsePgTimestamp(to).getTime() - parsePgTimestamp(from).getTime()) / 1000;

/**
 * `attempts`: the workload's log up to the loss (attempts after it cannot have reached the lost
 * primary and are ignored when `before` says so); `recoveredIds`: every id the recovered instance holds.
 */
export function measureDataLoss(attempts: readonly WorkloadAttempt[], recoveredIds: Iterable<number>): DataLoss {
  const recovered = new Set(recoveredIds);
  const acked = attempts.filter((a) => a.outcome === "acked");
  const ackedIds = new Set(acked.map((a) => a.id));
  const lost = acked.filter((a) => !recovered.has(a.id));
  const held = acked.filter((a) => recovered.has(a.id));
  const lastRecovered = held.at(-1);
  const holes = lastRecovered ? lost.filter((a) => a.id < lastRecovered.id).map((a) => a.id) : [];
  const newestAcked = acked.at(-1);
  const first = lost[0];
  const last = lost.at(-1);
  let rpoSeconds = 0;
  if (lost.length > 0 && newestAcked?.serverTime) {
    // Nothing held at all: everything since the first acknowledged commit was lost.
    const since = lastRecovered?.serverTime ?? acked[0]?.serverTime;
    rpoSeconds = since ? Math.max(0, secondsBetween(since, newestAcked.serverTime)) : 0;
  }
  const unacknowledged = [...recovered].filter((id) => !ackedIds.has(id)).sort((a, b) => a - b);
  return {
    acknowledged: acked.length,
    lost: {
      count: lost.length,
      firstId: first?.id,
      lastId: last?.id,
      firstServerTime: first?.serverTime,
      lastServerTime: last?.serverTime,
      spanSeconds: first?.serverTime && last?.serverTime ? secondsBetween(first.serverTime, last.serverTime) : 0,
    },
    rpoSeconds,
    unacknowledgedButRecovered: { count: unacknowledged.length, ids: unacknowledged.slice(0, 20) },
    lastRecovered: lastRecovered?.serverTime ? { id: lastRecovered.id, serverTime: lastRecovered.serverTime } : undefined,
    holes,
  };
}

/**
 * The outage as the application saw it: its first failed attempt once the primary was lost
 * (`lossAtMs`, client monotonic clock) and the last commit acknowledged before that failure (an
 * answer can still arrive in the milliseconds the kill takes: it came from the old primary).
 */
export function outageFromLog(
  attempts: readonly WorkloadAttempt[],
  lossAtMs: number,
): { lastAckBeforeLoss?: WorkloadAttempt; firstFailure?: WorkloadAttempt; failedAttempts: number } {
  const firstFailure = attempts.find((a) => a.outcome === "failed" && a.doneAtMs >= lossAtMs);
  let lastAckBeforeLoss: WorkloadAttempt | undefined;
  for (const a of attempts) if (a.outcome === "acked" && (!firstFailure || a.id < firstFailure.id)) lastAckBeforeLoss = a;
  const failedAttempts = attempts.filter((a) => a.outcome === "failed" && a.doneAtMs >= lossAtMs).length;
  return { lastAckBeforeLoss, firstFailure, failedAttempts };
}
