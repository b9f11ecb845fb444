// The drill's verdict on its main recovery: RTO phase by phase, RPO from what the recovered instance
// lacks, the objectives judged, the trend against earlier runs, the chart, and the documents the
// seed writes by hand. Pure: `judgeRecovery` computes, `recordJudgement` writes the files; the
// caller attaches what it wants to its report.
import { mkdir, writeFile } from "node:fs/promises";
import { platformName } from "../../containers/platforms.ts";
import type { BackupDetails } from "../barman/barman-output.ts";
import type { RecoveryTarget } from "../barman/recovery-target.ts";
import type { DrillSettings } from "../drill/config.ts";
import { incidentReport } from "../drill/documents.ts";
import { computeRpo, type RecoveryMetrics, type RecoveryPhases, recoveryDuration, renderMetricsText } from "../drill/metrics.ts";
import { evaluateObjectives } from "../drill/objectives.ts";
import { appendRtoHistory, historyOfPlatform, type RtoHistoryEntry, renderRtoChart, rtoTrend, type TrendVerdict } from "../drill/rto-history.ts";
import { parsePgTimestamp } from "../support/pg-time.ts";
import type { Disaster, DrillPlan, GoodState } from "./phases.ts";
import { changedTables, rowsLost, type TableSnapshot } from "./row-digest.ts";

export const RECOVERY_METRICS_PATH = "reports/recovery-metrics.json";

/** The target's own value (a time, a name, an xid, an LSN), as recovery-metrics.json records it. */
function targetValue(target: RecoveryTarget): string {
  switch (target.kind) {
    case "time":
      return target.time;
    case "name":
      return target.name;
    case "xid":
      return String(target.xid);
    case "lsn":
      return target.lsn;
    default:
      return target.kind;
  }
}

export interface Judgement {
  metrics: RecoveryMetrics;
  metricsText: string;
  trend: TrendVerdict;
  historyEntry: RtoHistoryEntry;
  /** Stacked bars of the phases of earlier runs and this one. */
  chartSvg: string;
}

export function judgeRecovery(input: {
  runId: string;
  plan: Pick<DrillPlan, "name" | "serverName" | "platform">;
  settings: Pick<DrillSettings, "objectives" | "trend">;
  versions: { postgres: string; barman: string };
  backup: BackupDetails;
  target: RecoveryTarget;
  goodState: GoodState;
  disaster: Disaster;
  recovered: TableSnapshot;
  phases: RecoveryPhases;
  /** Monotonic clock when the recovered data was verified: the end of the RTO. */
  verifiedAt: number;
  history: RtoHistoryEntry[];
  now?: Date;
}): Judgement {
  const { goodState, disaster, phases, settings } = input;
  const measured = {
    schemaVersion: 1 as const,
    runId: input.runId,
    drill: input.plan.name,
    platform: platformName(input.plan.platform),
    server: input.plan.serverName,
    backupId: input.backup.backupId,
    backupSizeBytes: input.backup.sizeBytes,
    target: { kind: input.target.kind, value: targetValue(input.target) },
    goodStateTime: goodState.time,
    disasterTime: disaster.time,
    versions: input.versions,
    phasesMs: phases,
    recoveryMs: recoveryDuration(phases),
    totalFromDisasterMs: input.verifiedAt - disaster.committedAt,
    rpo: computeRpo({
      rowsLostByTable: rowsLost(goodState.snapshot, input.recovered),
      targetTime: parsePgTimestamp(goodState.time),
      disasterTime: parsePgTimestamp(disaster.time),
    }),
    objectives: settings.objectives,
  };
  const violations = evaluateObjectives(measured, settings.objectives).map((v) => v.message);
  const metrics: RecoveryMetrics = { ...measured, violations, verdict: violations.length ? "fail" : "pass" };
  // History and trend per pair: a run on PostgreSQL 18 is not compared with one on 15.
  const samePlatform = historyOfPlatform(input.history, platformName(input.plan.platform));
  const historyEntry: RtoHistoryEntry = {
    runId: input.runId,
    at: (input.now ?? new Date()).toISOString(),
    barmanRecoverMs: phases.barmanRecoverMs,
    instanceStartUntilPromotedMs: phases.instanceStartUntilPromotedMs,
    verificationMs: phases.verificationMs,
    recoveryMs: metrics.recoveryMs,
    totalFromDisasterMs: metrics.totalFromDisasterMs,
    platform: platformName(input.plan.platform),
    versions: input.versions,
  };
  return {
    metrics,
    metricsText: renderMetricsText(metrics),
    trend: rtoTrend(metrics, samePlatform, settings.trend),
    historyEntry,
    chartSvg: renderRtoChart([...samePlatform, historyEntry]),
  };
}

/** reports/recovery-metrics.json (secrets masked by `mask`) and one more line of RTO history. */
export async function recordJudgement(judgement: Judgement, mask: (text: string) => string = (t) => t): Promise<void> {
  await mkdir("reports", { recursive: true });
  await writeFile(RECOVERY_METRICS_PATH, mask(JSON.stringify(judgement.metrics, null, 2)));
  await appendRtoHistory(judgement.historyEntry);
}

/** The seed's incident report, from what the disaster did to the configured tables. */
export function incidentReportFor(input: { plan: Pick<DrillPlan, "name">; goodState: GoodState; disaster: Disaster; discoveredAt: string }): string {
  const lost = rowsLost(input.goodState.snapshot, input.disaster.snapshot);
  return incidentReport({
    drill: input.plan.name,
    discoveredAt: input.discoveredAt,
    goodStateTime: input.goodState.time,
    disasterTime: input.disaster.time,
    disasterXid: input.disaster.xid,
    tablesChanged: changedTables(input.goodState.snapshot, input.disaster.snapshot),
    rowsLostByTable: lost,
    restorePoint: input.goodState.restorePoint,
  });
}
