// Judging a measured recovery against the team's RTO and RPO objectives. A violation names the
// phase, its time, the budget and the variable that sets it, so a red gate says what to fix.

import { seconds } from "../support/measure.ts";
import { OBJECTIVE_ENV, type RecoveryObjectives } from "./config.ts";
import type { RecoveryMetrics } from "./metrics.ts";

export interface ObjectiveViolation {
  objective: keyof RecoveryObjectives;
  message: string;
}

const PHASES = [
  ["barmanRecoverMs", "barman recover", "rtoBarmanRecoverS"],
  ["instanceStartUntilPromotedMs", "instance start until promoted", "rtoInstanceStartS"],
  ["verificationMs", "verification", "rtoVerificationS"],
] as const;

/** The three recovery phases against their RTO objectives: what a drill and a nightly verification share. */
export function evaluatePhaseObjectives(phasesMs: RecoveryMetrics["phasesMs"], objectives: RecoveryObjectives): ObjectiveViolation[] {
  const violations: ObjectiveViolation[] = [];
  for (const [field, name, objective] of PHASES) {
    const ms = phasesMs[field];
    const budgetS = objectives[objective];
    if (ms - budgetS * 1000 > 1e-6) {
      violations.push({
        objective,
        message: `RTO phase '${name}' took ${seconds(ms)}, over its budget of ${budgetS} s (objectives.${objective} in the configuration, or ${OBJECTIVE_ENV[objective]})`,
      });
    }
  }
  return violations;
}

export function evaluateObjectives(
  metrics: Pick<RecoveryMetrics, "phasesMs" | "recoveryMs" | "totalFromDisasterMs" | "rpo">,
  objectives: RecoveryObjectives,
): ObjectiveViolation[] {
  const violations = evaluatePhaseObjectives(metrics.phasesMs, objectives);
  if (metrics.totalFromDisasterMs - objectives.rtoTotalS * 1000 > 1e-6) {
    const rest = metrics.totalFromDisasterMs - metrics.recoveryMs;
    const parts: Array<[string, number]> = [
      ...PHASES.map(([field, name]): [string, number] => [name, metrics.phasesMs[field]]),
      ["archiving and preparation before the recovery", rest],
    ];
    const [largest, largestMs] = parts.reduce((a, b) => (b[1] > a[1] ? b : a));
    violations.push({
      objective: "rtoTotalS",
      message: `RTO total ${seconds(metrics.totalFromDisasterMs)} from the disaster is over its budget of ${objectives.rtoTotalS} s (objectives.rtoTotalS in the configuration, or ${OBJECTIVE_ENV.rtoTotalS}); the largest phase is ${largest} with ${seconds(largestMs)}`,
    });
  }
  if (metrics.rpo.rowsLostBeforeDisaster > objectives.rpoRows) {
    violations.push({
      objective: "rpoRows",
      message: `RPO: ${metrics.rpo.rowsLostBeforeDisaster} rows written before the disaster were not recovered, budget ${objectives.rpoRows} (objectives.rpoRows in the configuration, or ${OBJECTIVE_ENV.rpoRows})`,
    });
  }
  if (metrics.rpo.secondsBetweenTargetAndDisaster > objectives.rpoSeconds) {
    violations.push({
      objective: "rpoSeconds",
      message: `RPO: the recovery target is ${metrics.rpo.secondsBetweenTargetAndDisaster.toFixed(3)} s before the disaster, over the budget of ${objectives.rpoSeconds} s (objectives.rpoSeconds in the configuration, or ${OBJECTIVE_ENV.rpoSeconds})`,
    });
  }
  return violations;
}
