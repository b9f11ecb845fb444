// The user's drill, in one typed file (pgdrill.config.ts): their schema and data, their normal
// work, their disaster, what "recovered correctly" means, their Barman and PostgreSQL settings,
// the targets to drill and the objectives. Validated before any container starts.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import {
  BUDGET_DEFAULTS_S,
  type BudgetName,
  budgetEnvName,
  type DrillSettings,
  OBJECTIVE_DEFAULTS,
  OBJECTIVE_ENV,
  type RecoveryObjectives,
  TARGET_KINDS,
  type TargetKindName,
} from "./config.ts";

/** What a function step of the config can do on the primary. */
export interface PrimaryContext {
  /** SQL on the drill's database, as the superuser; returns the rows. */
  sql(text: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** A program inside the primary's container as the postgres user, with PGDATABASE set (psql, pgbench, ...); returns stdout. */
  exec(argv: string[]): Promise<string>;
}

/** A step: inline SQL, a SQL file (path relative to the config file), or a function. */
export type WorkStep = string | { file: string } | ((primary: PrimaryContext) => Promise<void>);
/** The disaster runs in one transaction (its xid is the xid target): SQL only. */
export type DisasterStep = string | { file: string };

export interface VerificationQuery {
  name: string;
  sql: string;
  /** Rows the query must return on the recovered instance; omitted: the rows it returned on the primary at the good state. */
  expected?: unknown[][];
}

export interface DrillConfig {
  /** Shown in the report. */
  name: string;
  /** Database the drill creates on the primary and verifies (default "app"). */
  database?: string;
  /** The drill's steps; a configuration for the nightly verification alone may leave them out. */
  seed?: WorkStep[];
  normalWork?: WorkStep[];
  disaster?: DisasterStep[];
  verify?: {
    /** Tables (schema-qualified or not) compared by row count and content checksum. */
    tables: string[];
    queries?: VerificationQuery[];
  };
  /** Row counts the primary must show at each checkpoint; null: the table must not exist. */
  expect?: {
    baseline?: Record<string, number | null>;
    goodState?: Record<string, number | null>;
    afterDisaster?: Record<string, number | null>;
  };
  /** Recovery targets to drill, in order (default: time); the first is judged against the objectives. */
  targets?: TargetKindName[];
  recover?: {
    /** `barman recover --jobs` (default: barman.settings.parallel_jobs, else 1). */
    jobs?: number;
  };
  /** Shorthand for both versions, e.g. "pg17-barman3.13" (containers/platforms.ts lists the pairs). */
  platform?: string;
  postgres?: {
    /** PostgreSQL major version of the primary and the recovered instances: "15", "17" or "18". */
    version?: string;
  };
  barman?: {
    /** Barman version of the server: "3.4", "3.13" or "3.20". */
    version?: string;
    /** Barman's name for the server (default "pg-primary"). */
    serverName?: string;
    /** Lines of the server section of barman.conf, e.g. { compression: "gzip" }. */
    settings?: Record<string, string>;
  };
  primary?: {
    /**
     * Where the primary keeps its configuration: "official" (the official postgres image's, default:
     * postgresql.conf inside PGDATA) or "debian" (pg_createcluster's: /etc/postgresql/<major>/main,
     * PGDATA in /var/lib/postgresql/<major>/main; the recovered instances get a configuration of
     * their own there, as a recovery host set up the same way has).
     */
    layout?: PrimaryLayout;
    /** postgresql.conf settings of the primary, e.g. { wal_compression: "on" }. */
    settings?: Record<string, string>;
  };
  /** RTO/RPO objectives (seconds, rows); environment variables still win. */
  objectives?: Partial<RecoveryObjectives>;
  /** Time budgets of the waits, in seconds; environment variables still win. */
  budgetsS?: Partial<Record<BudgetName, number>>;
  /** Checks for the nightly verification of an existing Barman server (no primary to compare with). */
  nightly?: NightlyConfig;
  /** Scenario 13, the full disaster-recovery drill (tests/drill/scenario-13.test.ts); Scenario 12 drills ignore it. */
  fullDr?: FullDrConfig;
}

/** What the nightly verification runs on one server's recovered copy; `servers` overrides it per server. */
export interface NightlyServerConfig {
  /** Queries and the rows they must return. */
  checks?: Array<Required<VerificationQuery>>;
  /** The database the checks run in (default: config.database). */
  database?: string;
  /** pg_amcheck --heapallindexed over every database of the recovered copy. */
  amcheck?: boolean;
  /** A full pg_dump of every database to nowhere: every row read once. */
  pgDump?: boolean;
  /** Freshness objectives in seconds: the backup, the newest archived WAL, the newest recovered commit. */
  freshness?: { maxBackupAgeS?: number; maxWalAgeS?: number; maxRecoveryPointAgeS?: number };
  /** One timestamp: the newest commit in the data, where track_commit_timestamp is off. */
  recoveryPointQuery?: string;
}

export interface NightlyConfig extends NightlyServerConfig {
  /** Per Barman server name: replaces the settings above for that server (checks replace checks). */
  servers?: Record<string, NightlyServerConfig>;
}

/** Where a primary keeps its configuration (DrillConfig.primary.layout). */
export const PRIMARY_LAYOUTS = ["official", "debian"] as const;
export type PrimaryLayout = (typeof PRIMARY_LAYOUTS)[number];

/** How WAL reaches Barman in a full disaster-recovery drill. */
export const WAL_MODES = ["archive", "streaming", "synchronous"] as const;
export type WalMode = (typeof WAL_MODES)[number];

export interface FullDrConfig {
  /**
   * archive: archive_command only (streaming_archiver = off), a segment reaches Barman when it is
   * full or archive_timeout has passed; streaming: also Barman's receive-wal, asynchronous;
   * synchronous: receive-wal named in synchronous_standby_names, a commit is acknowledged only
   * once Barman has it.
   */
  walMode: WalMode;
  /** The primary's archive_timeout in seconds; required with walMode "archive". */
  archiveTimeoutS?: number;
  workload?: {
    /** Commits per second of the steady writer (default 200). */
    ratePerSecond?: number;
    /**
     * Acknowledged commits before the primary's host is lost (default: two seconds' worth). Give
     * more than archive_timeout's worth in walMode archive, so that the loss is what the WAL
     * shipping leaves behind, not merely the whole workload.
     */
    commitsBeforeDisaster?: number;
  };
  /** Objectives the drill is judged against; RPO defaults to no loss at all, RTO to 120 s. */
  objectives?: {
    /** Acknowledged commits that may be lost. */
    rpoCommits?: number;
    /** Seconds of acknowledged work that may be lost. */
    rpoSeconds?: number;
    /** From the last commit acknowledged before the loss to the first acknowledged by the new primary. */
    rtoApplicationS?: number;
  };
}

export const FULL_DR_DEFAULTS = { ratePerSecond: 200, objectives: { rpoCommits: 0, rpoSeconds: 0, rtoApplicationS: 120 } } as const;

export const defineDrillConfig = (config: DrillConfig): DrillConfig => config;

const identifier = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;
const sqlOrFile = z.union([z.string().min(1, { message: "SQL must not be empty" }), z.object({ file: z.string().min(1) }).strict()]);
const workStep = z.union([
  sqlOrFile,
  z.custom<(primary: PrimaryContext) => Promise<void>>((v) => typeof v === "function", { message: "a step is SQL text, { file }, or a function" }),
]);
const counts = z.record(
  z.string().regex(identifier, { message: "must be a table name such as orders or app.orders" }),
  z.number().int().nonnegative().nullable(),
);
// Barman and PostgreSQL setting names are plain words; values must stay on one line of a conf file.
const settingsMap = z.record(
  z.string().regex(/^[a-z_][a-z0-9_.]*$/, { message: "must be a setting name (lower case, _ and .)" }),
  z.string().regex(/^[^\n\r]*$/, { message: "must be one line" }),
);
const query = z.object({ name: z.string().min(1), sql: z.string().min(1), expected: z.array(z.array(z.unknown())).optional() }).strict();

const nightlyServerSchema = z
  .object({
    checks: z.array(query.required()).min(1).optional(),
    database: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, { message: "must be a lower-case database name" })
      .optional(),
    amcheck: z.boolean().optional(),
    pgDump: z.boolean().optional(),
    freshness: z
      .object({
        maxBackupAgeS: z.number().positive().optional(),
        maxWalAgeS: z.number().positive().optional(),
        maxRecoveryPointAgeS: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    recoveryPointQuery: z.string().min(1).optional(),
  })
  .strict();

const configSchema = z
  .object({
    name: z.string().min(1),
    database: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, { message: "must be a lower-case database name" })
      .optional(),
    seed: z.array(workStep).min(1, { message: "give at least one step that creates and fills the schema" }).optional(),
    normalWork: z.array(workStep).min(1, { message: "give at least one step of normal work after the backup" }).optional(),
    disaster: z.array(sqlOrFile).min(1, { message: "give the disaster's SQL" }).optional(),
    verify: z
      .object({
        tables: z
          .array(z.string().regex(identifier, { message: "must be a table name such as orders or app.orders" }))
          .min(1, { message: "name at least one table to compare" }),
        queries: z.array(query).optional(),
      })
      .strict()
      .optional(),
    expect: z.object({ baseline: counts.optional(), goodState: counts.optional(), afterDisaster: counts.optional() }).strict().optional(),
    targets: z
      .array(z.enum(TARGET_KINDS, { message: `allowed: ${TARGET_KINDS.join(", ")}` }))
      .min(1)
      .optional(),
    recover: z
      .object({ jobs: z.number().int({ message: "must be a whole number of jobs" }).min(1).max(64).optional() })
      .strict()
      .optional(),
    platform: z.string().optional(),
    postgres: z.object({ version: z.string().optional() }).strict().optional(),
    barman: z
      .object({
        version: z.string().optional(),
        serverName: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_-]*$/, { message: "must be a Barman server name (lower case, digits, - and _)" })
          .optional(),
        settings: settingsMap.optional(),
      })
      .strict()
      .optional(),
    primary: z
      .object({
        layout: z.enum(PRIMARY_LAYOUTS, { message: `allowed: ${PRIMARY_LAYOUTS.join(", ")}` }).optional(),
        settings: settingsMap.optional(),
      })
      .strict()
      .optional(),
    objectives: z
      .object(
        Object.fromEntries(Object.keys(OBJECTIVE_DEFAULTS).map((k) => [k, z.number().nonnegative().optional()])) as Record<
          keyof RecoveryObjectives,
          z.ZodOptional<z.ZodNumber>
        >,
      )
      .strict()
      .optional(),
    budgetsS: z
      .object(
        Object.fromEntries(Object.keys(BUDGET_DEFAULTS_S).map((k) => [k, z.number().positive().optional()])) as Record<BudgetName, z.ZodOptional<z.ZodNumber>>,
      )
      .strict()
      .optional(),
    nightly: nightlyServerSchema
      .extend({ servers: z.record(z.string(), nightlyServerSchema).optional() })
      .strict()
      .superRefine((nightly, context) => {
        // zod reports a bad record key only as "Invalid key in record": name the key and the rule.
        for (const name of Object.keys(nightly.servers ?? {}).filter((n) => !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(n))) {
          context.addIssue({ code: "custom", path: ["servers", name], message: "must be a Barman server name (letters, digits, '.', '_' and '-')" });
        }
      })
      .optional(),
    fullDr: z
      .object({
        walMode: z.enum(WAL_MODES, { message: `allowed: ${WAL_MODES.join(", ")}` }),
        archiveTimeoutS: z.number().int({ message: "must be a whole number of seconds" }).min(1).max(3600).optional(),
        workload: z
          .object({
            ratePerSecond: z.number().min(1, { message: "must be at least 1 commit per second" }).max(2000).optional(),
            commitsBeforeDisaster: z.number().int({ message: "must be a whole number of commits" }).min(1).optional(),
          })
          .strict()
          .optional(),
        objectives: z
          .object({
            rpoCommits: z.number().int({ message: "must be a whole number of commits" }).nonnegative().optional(),
            rpoSeconds: z.number().nonnegative().optional(),
            rtoApplicationS: z.number().positive().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .superRefine((fullDr, context) => {
        if (fullDr.walMode === "archive" && fullDr.archiveTimeoutS === undefined) {
          context.addIssue({
            code: "custom",
            path: ["archiveTimeoutS"],
            message: "walMode archive ships WAL only when a segment is full or archive_timeout passes: set the primary's archive_timeout in seconds",
          });
        }
      })
      .optional(),
  })
  .strict()
  .superRefine((config, context) => {
    // A drill needs all four of its parts; a nightly-only configuration needs its checks.
    const parts = (["seed", "normalWork", "disaster", "verify"] as const).filter((field) => config[field] !== undefined);
    if (parts.length === 0 && !config.nightly) {
      context.addIssue({
        code: "custom",
        path: [],
        message: "give the drill's seed, normalWork, disaster and verify, or nightly.checks for the nightly verification",
      });
    } else if (parts.length > 0) {
      for (const field of (["seed", "normalWork", "disaster", "verify"] as const).filter((f) => config[f] === undefined)) {
        context.addIssue({ code: "custom", path: [field], message: `a drill needs it beside ${parts.join(", ")}` });
      }
    }
  });

export class DrillConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid drill configuration ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "DrillConfigError";
  }
}

/** Checks a configuration object; every problem names its setting (config.verify.tables[0], ...). */
export function validateDrillConfig(value: unknown, source: string): DrillConfig {
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) {
    throw new DrillConfigError(
      source,
      parsed.error.issues.map((issue) => {
        const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
        return `config${path}: ${issue.message}`;
      }),
    );
  }
  return parsed.data as DrillConfig;
}

export const CONFIG_FILE = "pgdrill.config.ts";

export interface LoadedDrillConfig {
  config: DrillConfig;
  /** The file it came from; SQL files are relative to its folder. */
  path: string;
}

/** PGDRILL_CONFIG if set, else pgdrill.config.ts in the working directory. */
export async function loadDrillConfig(options: { env?: NodeJS.ProcessEnv; cwd?: string; path?: string } = {}): Promise<LoadedDrillConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const given = options.path ?? env["PGDRILL_CONFIG"];
  const path = given ? (isAbsolute(given) ? given : resolve(cwd, given)) : resolve(cwd, CONFIG_FILE);
  if (!existsSync(path)) {
    const how = options.path
      ? `${given}: no such file`
      : given
        ? `PGDRILL_CONFIG=${given}: no such file`
        : `no ${CONFIG_FILE} in ${cwd}; create one or set PGDRILL_CONFIG`;
    throw new DrillConfigError(path, [how]);
  }
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new DrillConfigError(path, [`could not be loaded: ${(error as Error).message}`]);
  }
  if (module.default === undefined) throw new DrillConfigError(path, ["has no default export (export default defineDrillConfig({ ... }))"]);
  const config = validateDrillConfig(module.default, path);
  for (const [where, steps] of [
    ["seed", config.seed],
    ["normalWork", config.normalWork],
    ["disaster", config.disaster],
  ] as const) {
    (steps ?? []).forEach((step, i) => {
      if (typeof step === "object" && !existsSync(resolve(dirname(path), step.file))) {
        throw new DrillConfigError(path, [`config.${where}[${i}].file: ${step.file} does not exist next to the config`]);
      }
    });
  }
  return { config, path };
}

/** The SQL text of a step, or the function to call. */
export async function resolveStep(step: WorkStep, configPath: string): Promise<string | ((primary: PrimaryContext) => Promise<void>)> {
  if (typeof step === "string" || typeof step === "function") return step;
  return readFile(resolve(dirname(configPath), step.file), "utf8");
}

/** Settings from the environment, with the config's objectives and budgets where no variable is set. */
export function applyConfigToSettings(settings: DrillSettings, config: DrillConfig, env: NodeJS.ProcessEnv = process.env): DrillSettings {
  const objectives = { ...settings.objectives };
  for (const [key, value] of Object.entries(config.objectives ?? {}) as Array<[keyof RecoveryObjectives, number | undefined]>) {
    if (value !== undefined && env[OBJECTIVE_ENV[key]] === undefined) objectives[key] = value;
  }
  const budgetsMs = { ...settings.budgetsMs };
  for (const [key, value] of Object.entries(config.budgetsS ?? {}) as Array<[BudgetName, number | undefined]>) {
    if (value !== undefined && env[budgetEnvName(key)] === undefined) budgetsMs[key] = Math.round(value * 1000);
  }
  return { ...settings, objectives, budgetsMs };
}
