// Every setting the drill reads from the environment, validated before any container starts.
// A wrong value fails with one line naming the variable and what it accepts.
import { z } from "zod";

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
  /** Any single SQL statement of the drill (seeding, counting, checksums). */
  sqlStatement: 120,
} as const;

export type BudgetName = keyof typeof BUDGET_DEFAULTS_S;

export const budgetEnvName = (name: BudgetName): string =>
  `PGDRILL_BUDGET_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}_S`;

const booleanFlag = z
  .enum(["1", "0", "true", "false", "yes", "no", ""], { message: "allowed: 1, 0, true, false, yes, no" })
  .transform((v) => v === "1" || v === "true" || v === "yes");

const budgetSeconds = z.coerce
  .number({ message: "must be a number of seconds" })
  .refine((n) => Number.isFinite(n) && n > 0, { message: "must be a positive number of seconds" })
  .refine((n) => !(n > 0) || n >= 0.001, { message: "must be at least 0.001 seconds (1 ms)" })
  .refine((n) => n <= 24 * 3600, { message: "must be at most 86400 seconds (24 h)" });

// A Docker image reference: name[:tag][@digest], lower case path components.
const imageReference = z
  .string()
  .regex(/^[a-z0-9]+([._\-/][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, {
    message: "must be a Docker image reference such as debian:bookworm-slim",
  });

/** The recovery targets the targets drill can run, by the names users give them. */
export const TARGET_KINDS = ["time", "name", "xid-exclusive", "xid-inclusive", "lsn", "immediate", "latest"] as const;
export type TargetKindName = (typeof TARGET_KINDS)[number];

const targetKindList = z
  .string()
  .transform((text) => text.split(",").map((k) => k.trim()).filter(Boolean))
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
  /** Recovery targets the targets drill runs (all by default). */
  targetKinds: TargetKindName[];
}

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
  const known = new Set([...Object.keys(BUDGET_DEFAULTS_S).map((n) => budgetEnvName(n as BudgetName)), "PGDRILL_BUDGET_ENGINE_START_S"]);
  for (const variable of Object.keys(env).filter((k) => k.startsWith("PGDRILL_BUDGET_") && !known.has(k))) {
    problems.push(`${variable}: unknown time budget; known budgets: ${[...known].sort().join(", ")}`);
  }

  const settings: DrillSettings = {
    budgetsMs,
    keepResources: check("PGDRILL_KEEP", booleanFlag, env["PGDRILL_KEEP"], false),
    baseImage: check("PGDRILL_BASE_IMAGE", imageReference.optional(), env["PGDRILL_BASE_IMAGE"] || undefined, undefined),
    targetKinds: check("PGDRILL_TARGET_KINDS", targetKindList, env["PGDRILL_TARGET_KINDS"], [...TARGET_KINDS]),
  };
  if (problems.length > 0) throw new SettingsError(problems);
  return settings;
}
