// Every setting the drill reads from the environment, validated before any container starts.
// A wrong value fails with one line naming the variable and what it accepts.
import { z } from "zod";
import type { Budget } from "../support/wait.ts";

/** Time budgets, in seconds, one per event the drill waits for (cf. CloudNativePG's timeouts.go). */
export const BUDGET_DEFAULTS_S = {
  /** A primary or Barman container created and answering. */
  containerStart: 120,
  /** Barman's receive-wal streaming from the primary's replication slot. */
  walStreamingReady: 60,
  /** `barman backup` finished, including the WAL the backup needs. */
  backup: 300,
  /** A closed WAL segment present in Barman's archive. */
  walArchived: 60,
  /** `barman recover` copying the backup and the WAL. */
  recover: 600,
  /** The recovered instance reaching its target and promoting. */
  recoveredInstancePromoted: 300,
  /** Docker removing a run's containers, volumes and network (a removal already under way answers 409 meanwhile). */
  containerRemoved: 60,
  /** A service a test starts itself (the Pushgateway) answering, and gone again after SIGTERM. */
  serviceReady: 15,
  /** Any single SQL statement of the drill (seeding, counting, checksums). */
  sqlStatement: 120,
  /** Nightly verification: one built-in integrity check of the recovered instance (pg_amcheck, or a full pg_dump read). */
  integrityCheck: 1800,
  /** Scenario 13: one commit of the steady workload; an attempt without an answer by then counts as failed. */
  workloadCommit: 10,
  /** Scenario 13: the workload's first acknowledged commits, and its first commit after the switchover. */
  workloadCommitted: 60,
  /** Scenario 13: the workload's first failed attempt after the primary's host is lost. */
  outageDetected: 30,
  /** Scenario 13: Barman's receive-wal streaming synchronously (sync_state = sync in pg_stat_replication). */
  synchronousStreaming: 60,
} as const;

export type BudgetName = keyof typeof BUDGET_DEFAULTS_S;

/** A budget of the settings as one value (src/support/wait.ts): its name and the length this run gives it. */
export const budgetOf = (settings: Pick<DrillSettings, "budgetsMs">, name: BudgetName): Budget => ({ name, ms: settings.budgetsMs[name] });

export const budgetEnvName = (name: BudgetName): string => `PGDRILL_BUDGET_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}_S`;

const booleanFlag = z
  .enum(["1", "0", "true", "false", "yes", "no", ""], { message: "allowed: 1, 0, true, false, yes, no" })
  .transform((v) => v === "1" || v === "true" || v === "yes");

const budgetSeconds = z.coerce
  .number({ message: "must be a number of seconds" })
  .refine((n) => Number.isFinite(n) && n > 0, { message: "must be a positive number of seconds" })
  .refine((n) => !(n > 0) || n >= 0.001, { message: "must be at least 0.001 seconds (1 ms)" })
  .refine((n) => n <= 24 * 3600, { message: "must be at most 86400 seconds (24 h)" });

const objectiveSeconds = z.coerce
  .number({ message: "must be a number of seconds" })
  .refine((n) => Number.isFinite(n) && n > 0, { message: "must be a positive number of seconds" });

const rowCount = z.coerce
  .number({ message: "must be a whole number of rows" })
  .refine((n) => Number.isInteger(n) && n >= 0, { message: "must be a whole number of rows, 0 or more" });

// A Docker image reference: name[:tag][@digest], lower case path components.
const imageReference = z.string().regex(/^[a-z0-9]+([._\-/][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, {
  message: "must be a Docker image reference such as debian:bookworm-slim",
});

/** The recovery targets the targets drill can run, by the names users give them. */
export const TARGET_KINDS = ["time", "name", "xid-exclusive", "xid-inclusive", "lsn", "immediate", "latest"] as const;
export type TargetKindName = (typeof TARGET_KINDS)[number];

const targetKindList = z
  .string()
  .transform((text) =>
    text
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.enum(TARGET_KINDS, { message: `allowed: ${TARGET_KINDS.join(", ")} (comma-separated)` }))
      .min(1, { message: `name at least one of: ${TARGET_KINDS.join(", ")}` }),
  );

export interface DrillSettings {
  budgetsMs: Record<BudgetName, number>;
  /** Keep containers, networks and volumes after the run for debugging. */
  keepResources: boolean;
  /** Use this image as the Debian base instead of building one with mmdebstrap. */
  baseImage: string | undefined;
  /** PGDRILL_RECOVERY_IMAGE: the nightly verification's throwaway instance image, for any backup version. */
  recoveryImage: string | undefined;
  /** PGDRILL_TARGET_KINDS: overrides a configuration's targets; undefined when unset. */
  targetKinds: TargetKindName[] | undefined;
  /** RTO and RPO objectives the drill is judged against (src/drill/objectives.ts). */
  objectives: RecoveryObjectives;
  /** Trend against earlier runs (src/drill/rto-history.ts). */
  trend: { window: number; allowedShare: number; failOnRegression: boolean };
}

/**
 * Defaults are the seed drill's own figures (Barman ~8 s, start ~10 s, verification ~30 s,
 * ~4 min in all, RPO 0 rows): a healthy setup meets them with room to spare.
 */
export const OBJECTIVE_DEFAULTS = {
  rtoBarmanRecoverS: 8,
  rtoInstanceStartS: 10,
  rtoVerificationS: 30,
  rtoTotalS: 240,
  rpoRows: 0,
  rpoSeconds: 60,
} as const;

export interface RecoveryObjectives {
  rtoBarmanRecoverS: number;
  rtoInstanceStartS: number;
  rtoVerificationS: number;
  rtoTotalS: number;
  rpoRows: number;
  rpoSeconds: number;
}

export const OBJECTIVE_ENV: Record<keyof RecoveryObjectives, string> = {
  rtoBarmanRecoverS: "PGDRILL_RTO_BARMAN_RECOVER_S",
  rtoInstanceStartS: "PGDRILL_RTO_INSTANCE_START_S",
  rtoVerificationS: "PGDRILL_RTO_VERIFICATION_S",
  rtoTotalS: "PGDRILL_RTO_TOTAL_S",
  rpoRows: "PGDRILL_RPO_ROWS",
  rpoSeconds: "PGDRILL_RPO_SECONDS",
};

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid drill settings:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "SettingsError";
  }
}

/** Reads and validates the drill's settings from an environment (process.env by default). */
export function readSettings(env: NodeJS.ProcessEnv = process.env): DrillSettings {
  const problems: string[] = [];
  const check = <T>(variable: string, schema: z.ZodType<T>, raw: string | undefined, fallback: T): T => {
    if (raw === undefined) return fallback;
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    problems.push(`${variable}=${JSON.stringify(raw)}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
    return fallback;
  };

  const budgetsMs = {} as Record<BudgetName, number>;
  for (const name of Object.keys(BUDGET_DEFAULTS_S) as BudgetName[]) {
    const variable = budgetEnvName(name);
    budgetsMs[name] = Math.round(check(variable, budgetSeconds, env[variable], BUDGET_DEFAULTS_S[name]) * 1000);
  }
  const knownObjectives = new Set([...Object.values(OBJECTIVE_ENV), "PGDRILL_RTO_TREND_RUNS", "PGDRILL_RTO_REGRESSION_SHARE"]);
  for (const variable of Object.keys(env).filter((k) => /^PGDRILL_(RTO|RPO)_/.test(k) && !knownObjectives.has(k))) {
    problems.push(`${variable}: unknown objective; known: ${[...knownObjectives].sort().join(", ")}`);
  }
  const known = new Set([...Object.keys(BUDGET_DEFAULTS_S).map((n) => budgetEnvName(n as BudgetName)), "PGDRILL_BUDGET_ENGINE_START_S"]);
  for (const variable of Object.keys(env).filter((k) => k.startsWith("PGDRILL_BUDGET_") && !known.has(k))) {
    problems.push(`${variable}: unknown time budget; known budgets: ${[...known].sort().join(", ")}`);
  }

  const objectives = {} as RecoveryObjectives;
  for (const key of Object.keys(OBJECTIVE_DEFAULTS) as Array<keyof RecoveryObjectives>) {
    const variable = OBJECTIVE_ENV[key];
    objectives[key] = check(variable, key === "rpoRows" ? rowCount : objectiveSeconds, env[variable], OBJECTIVE_DEFAULTS[key]);
  }

  const settings: DrillSettings = {
    budgetsMs,
    keepResources: check("PGDRILL_KEEP", booleanFlag, env["PGDRILL_KEEP"], false),
    // `{suite}` stands for each Debian suite (debian:{suite}-slim): checked as it will be used.
    baseImage: check(
      "PGDRILL_BASE_IMAGE",
      z
        .string()
        .refine((v) => imageReference.safeParse(v.replaceAll("{suite}", "bookworm")).success, {
          message: "must be a Docker image reference such as debian:bookworm-slim or debian:{suite}-slim",
        })
        .optional(),
      env["PGDRILL_BASE_IMAGE"] || undefined,
      undefined,
    ),
    recoveryImage: check("PGDRILL_RECOVERY_IMAGE", imageReference.optional(), env["PGDRILL_RECOVERY_IMAGE"] || undefined, undefined),
    targetKinds: check<TargetKindName[] | undefined>("PGDRILL_TARGET_KINDS", targetKindList, env["PGDRILL_TARGET_KINDS"], undefined),
    objectives,
    trend: {
      window: check(
        "PGDRILL_RTO_TREND_RUNS",
        z.coerce
          .number({ message: "must be a whole number of runs" })
          .refine((n) => Number.isInteger(n), { message: "must be a whole number of runs" })
          .refine((n) => n >= 1, { message: "must be at least 1" }),
        env["PGDRILL_RTO_TREND_RUNS"],
        10,
      ),
      allowedShare: check(
        "PGDRILL_RTO_REGRESSION_SHARE",
        z.coerce.number({ message: "must be a number" }).refine((n) => Number.isFinite(n) && n > 0, { message: "must be a positive share, e.g. 0.5 for +50%" }),
        env["PGDRILL_RTO_REGRESSION_SHARE"],
        0.5,
      ),
      failOnRegression: check("PGDRILL_FAIL_ON_RTO_REGRESSION", booleanFlag, env["PGDRILL_FAIL_ON_RTO_REGRESSION"], false),
    },
  };
  if (problems.length > 0) throw new SettingsError(problems);
  return settings;
}
