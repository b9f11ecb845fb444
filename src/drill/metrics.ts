import { mebibytes, seconds } from "../support/measure.ts";
import type { RecoveryObjectives } from "./config.ts";

// RTO and RPO of a recovery drill, from monotonic clock readings (performance.now(), immune to
// wall-clock jumps) and from row counts read off the servers.

export interface RecoveryPhases {
  /** `barman recover`: copying the base backup and the WAL into the recovery volume. */
  barmanRecoverMs: number;
  /** Recovered instance: container start, WAL replay to the target, promotion. */
  instanceStartUntilPromotedMs: number;
  /** Counts and checksums on the recovered instance. */
  verificationMs: number;
}

export interface RpoFigures {
  /** Rows the tables held at the good state (read on the primary) that the recovered instance lacks. */
  rowsLostBeforeDisaster: number;
  /** The same, per table (only tables that lost rows). */
  rowsLostByTable: Record<string, number>;
  /** Server time between the recovery target and the disaster's commit. */
  secondsBetweenTargetAndDisaster: number;
}

/** reports/recovery-metrics.json; its fields are documented in README.md ("Machine-readable results"). */
export interface RecoveryMetrics {
  schemaVersion: 1;
  runId: string;
  /** The configuration's name. */
  drill: string;
  /** The PostgreSQL/Barman pair, e.g. "pg15-barman3.4" (exact versions in `versions`). */
  platform: string;
  server: string;
  backupId: string;
  backupSizeBytes: number;
  target: { kind: string; value: string };
  goodStateTime: string;
  disasterTime: string;
  versions: { postgres: string; barman: string };
  phasesMs: RecoveryPhases;
  /** barman recover + start until promoted + verification. */
  recoveryMs: number;
  /** From the disaster's commit to a verified recovered instance, including WAL archiving and preparation. */
  totalFromDisasterMs: number;
  rpo: RpoFigures;
  /** Objectives the run was judged against (seconds, rows). */
  objectives: RecoveryObjectives;
  /** One sentence per objective missed; empty when the run passed. */
  violations: string[];
  verdict: "pass" | "fail";
}

export function recoveryDuration(phases: RecoveryPhases): number {
  for (const [name, ms] of Object.entries(phases)) {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`phase ${name} has no valid duration (${ms})`);
  }
  return phases.barmanRecoverMs + phases.instanceStartUntilPromotedMs + phases.verificationMs;
}

export function computeRpo(input: { rowsLostByTable: Record<string, number>; targetTime: Date; disasterTime: Date }): RpoFigures {
  return {
    rowsLostBeforeDisaster: Object.values(input.rowsLostByTable).reduce((a, b) => a + b, 0),
    rowsLostByTable: input.rowsLostByTable,
    secondsBetweenTargetAndDisaster: (input.disasterTime.getTime() - input.targetTime.getTime()) / 1000,
  };
}

export function renderMetricsText(m: RecoveryMetrics): string {
  const pad = (label: string): string => label.padEnd(34, " ");
  return [
    "=================================================",
    "         POINT-IN-TIME RECOVERY METRICS",
    "=================================================",
    "",
    `Drill: ${m.drill}`,
    "",
    "Disaster details (server clock):",
    `  ${pad("Good state time:")}${m.goodStateTime}`,
    `  ${pad("Disaster time:")}${m.disasterTime}`,
    "",
    "Recovery process:",
    `  ${pad("Server / backup:")}${m.server} / ${m.backupId} (${mebibytes(m.backupSizeBytes)} MiB)`,
    `  ${pad("Recovery target:")}${m.target.kind} ${m.target.value}`,
    `  ${pad("Versions:")}PostgreSQL ${m.versions.postgres}, ${m.versions.barman} (${m.platform})`,
    "",
    "Recovery time breakdown (measured, monotonic clock):",
    `  ${pad("1. barman recover:")}${seconds(m.phasesMs.barmanRecoverMs)}`,
    `  ${pad("2. instance start until promoted:")}${seconds(m.phasesMs.instanceStartUntilPromotedMs)}`,
    `  ${pad("3. verification:")}${seconds(m.phasesMs.verificationMs)}`,
    `  ${pad("Recovery (1+2+3):")}${seconds(m.recoveryMs)}`,
    `  ${pad("Total RTO from the disaster:")}${seconds(m.totalFromDisasterMs)}`,
    "",
    "RPO:",
    `  ${pad("Rows lost before the disaster:")}${m.rpo.rowsLostBeforeDisaster}`,
    `  ${pad("Target to disaster (server):")}${m.rpo.secondsBetweenTargetAndDisaster.toFixed(3)} s`,
    "",
    `Objectives (RTO s / RPO): recover ${m.objectives.rtoBarmanRecoverS}, start ${m.objectives.rtoInstanceStartS}, verification ${m.objectives.rtoVerificationS}, total ${m.objectives.rtoTotalS}; rows ${m.objectives.rpoRows}, ${m.objectives.rpoSeconds} s`,
    `Verdict: ${m.verdict.toUpperCase()}${m.violations.length ? `\n  - ${m.violations.join("\n  - ")}` : ""}`,
    "=================================================",
  ].join("\n");
}
