// The documents the seed tutorial writes by hand, produced from what the drill measured.

import { seconds } from "../support/measure.ts";
import type { RecoveryMetrics } from "./metrics.ts";

export function incidentReport(input: {
  drill: string;
  discoveredAt: string;
  goodStateTime: string;
  disasterTime: string;
  disasterXid: number;
  /** Tables whose content the disaster changed. */
  tablesChanged: string[];
  /** Rows each table lost (a dropped table loses all). */
  rowsLostByTable: Record<string, number>;
  restorePoint: string;
}): string {
  const lost = Object.entries(input.rowsLostByTable);
  const impact = lost.length
    ? lost.map(([table, rows]) => `${rows.toLocaleString("en-US")} rows of ${table}`).join(", ")
    : `content of ${input.tablesChanged.join(", ") || "no configured table"} changed`;
  return [
    "=================================================",
    "         PRODUCTION INCIDENT REPORT",
    "=================================================",
    "",
    `Incident:        ${input.drill}`,
    `Discovery time:  ${input.discoveredAt} (server clock)`,
    `Impact:          ${impact} (transaction ${input.disasterXid})`,
    `Tables changed:  ${input.tablesChanged.join(", ") || "none"}`,
    "",
    "Timeline:",
    `- Good state: ${input.goodStateTime} (restore point '${input.restorePoint}' created)`,
    `- Disaster:   ${input.disasterTime} (committed)`,
    "",
    `Recovery strategy: point-in-time recovery to ${input.goodStateTime}`,
    "=================================================",
  ].join("\n");
}

export function switchoverPlan(input: { recoveredHost: string; recoveredTimeline: number; primaryHost: string; metrics: RecoveryMetrics }): string {
  return [
    "=================================================",
    "         PRODUCTION SWITCHOVER PLAN",
    "=================================================",
    "",
    "Verified by this drill:",
    `  recovered instance '${input.recoveredHost}' is promoted (timeline ${input.recoveredTimeline}) and accepts writes;`,
    `  recovery took ${seconds(input.metrics.recoveryMs)}, ${seconds(input.metrics.totalFromDisasterMs)} from the disaster.`,
    "",
    `1. STOP PRIMARY '${input.primaryHost}' (disaster state): shut it down, refuse new connections.`,
    `2. PROMOTE RECOVERED INSTANCE: already promoted (recovery_target_action = promote).`,
    `3. UPDATE CONNECTION STRINGS: point applications (or DNS / VIP) at '${input.recoveredHost}'.`,
    "4. RESTART APPLICATIONS and test connectivity.",
    "5. VERIFY OPERATIONS: health checks, critical transactions, logs.",
    `6. DECOMMISSION OLD PRIMARY: keep it for forensics, or rebuild it as a standby of '${input.recoveredHost}'.`,
    "7. RE-POINT BARMAN at the new primary (new timeline) and take a fresh base backup.",
    "8. COMMUNICATE: stakeholders, incident report, action items.",
    "=================================================",
  ].join("\n");
}

export function lessonsLearned(input: { metrics: RecoveryMetrics; walSegmentsArchived: string }): string {
  const m = input.metrics;
  return [
    "=================================================",
    "              LESSONS LEARNED",
    "=================================================",
    "",
    "What this drill proved:",
    `- Barman held the base backup ${m.backupId} and every WAL segment up to ${input.walSegmentsArchived}.`,
    `- PITR to ${m.target.kind} ${m.target.value} gave back the state before the disaster (${m.drill}): ${m.rpo.rowsLostBeforeDisaster} rows written before it were lost.`,
    `- Recovery took ${seconds(m.recoveryMs)} (barman recover ${seconds(m.phasesMs.barmanRecoverMs)}, start until promoted ${seconds(m.phasesMs.instanceStartUntilPromotedMs)}, verification ${seconds(m.phasesMs.verificationMs)}).`,
    `- ${seconds(m.totalFromDisasterMs)} from the disaster to a verified instance, with no person in the loop.`,
    "",
    "Recommendations:",
    "- Run this drill nightly and on every change to backup configuration.",
    "- Create named restore points before risky operations (pg_create_restore_point).",
    "- Alert on mass DELETE/UPDATE; restrict who can run them in production.",
    "- Keep the switchover runbook next to this report and rehearse it.",
    "=================================================",
  ].join("\n");
}
