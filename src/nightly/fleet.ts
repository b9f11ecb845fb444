// Every server of one Barman host (or a list of them, or one shard of them), each verified on its
// own by verifyExistingBackup, a few at a time. One server's failure, even one that stops it before
// any restore (an unknown backup id, tablespaces, no checks), is that server's red result, never
// the others': a fleet run always reports on every server it was given.
import { budgetOf } from "../drill/config.ts";
import type { NightlyConfig } from "../drill/drill-config.ts";
import { listBarmanServers } from "./barman-endpoint.ts";
import type { FleetReport } from "./fleet-report.ts";
import {
  type BarmanEndpoint,
  type FreshnessObjectives,
  type NightlyCheck,
  NightlyInputError,
  type NightlyResult,
  noEvidence,
  unknownFreshness,
  type VerifyExistingOptions,
} from "./nightly-result.ts";
import { modeOf, verifyExistingBackup } from "./verify-existing.ts";

/** The I-th of N slices of a fleet, as Vitest's --shard names them (1-based). */
export interface Shard {
  index: number;
  count: number;
}

export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index < 1 || index > count) throw new Error(`'${text}' is not a shard such as 1/3 (I/N with 1 <= I <= N)`);
  return { index, count };
}

/**
 * The servers of one shard: sorted by name, every N-th from the I-th, so each server is in exactly
 * one shard and the split is the same on every runner that sees the same list.
 */
export function serversOfShard(servers: string[], shard: Shard): string[] {
  return [...servers].sort().filter((_, i) => i % shard.count === shard.index - 1);
}

/** What one server's verification runs: its checks and objectives (config.nightly and its per-server part). */
export interface ServerPlan {
  checks: NightlyCheck[];
  database: string;
  builtInChecks: { amcheck: boolean; pgDump: boolean };
  freshness: FreshnessObjectives;
  recoveryPointQuery?: string;
}

export interface FleetOptions
  extends Omit<VerifyExistingOptions, "server" | "checks" | "database" | "builtInChecks" | "freshness" | "recoveryPointQuery" | "progress"> {
  barman: BarmanEndpoint;
  /** Every server Barman lists, or these (each must exist). */
  servers: "all" | string[];
  shard?: Shard;
  /** Servers verified at the same time (each holds one restored copy on the Barman host and one throwaway instance here). */
  concurrency: number;
  /** The plan of a server, or a sentence saying why it cannot be verified (that server goes red). */
  planFor: (server: string) => ServerPlan | string;
  /** Progress lines, each with the server it is about (undefined: the run as a whole). */
  progress: (line: string, server?: string) => void;
}

/** Runs `work` on every item, at most `limit` at a time, results in the items' order. */
export async function mapWithConcurrency<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** A server that stopped before its verification could start: red, with the reason, in the same shape as the others. */
export function failedBeforeStart(options: {
  server: string;
  barman: string;
  target: NonNullable<VerifyExistingOptions["target"]>;
  reason: string;
}): NightlyResult {
  const now = new Date().toISOString();
  return {
    verdict: "fail",
    startedAt: now,
    finishedAt: now,
    mode: modeOf(options.target),
    postgresMajor: undefined,
    freshness: unknownFreshness(now),
    transferredBytes: null,
    barman: options.barman,
    server: options.server,
    backupId: undefined,
    target: options.target,
    workDirectory: undefined,
    phasesMs: { verifyBackupMs: null, barmanRecoverMs: null, transferMs: null, instanceStartUntilPromotedMs: null, verificationMs: null },
    totalMs: 0,
    checks: [],
    problems: [`backup selection failed for server '${options.server}': ${options.reason}`],
    failedPhase: "backup selection",
    interrupted: false,
    barmanCommands: [],
    ...noEvidence(),
  };
}

export async function verifyFleet(options: FleetOptions): Promise<FleetReport> {
  const startedAt = new Date().toISOString();
  const target = options.target ?? { kind: "latest" as const };
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    throw new NightlyInputError(`concurrency ${options.concurrency} must be a whole number >= 1`);
  const { label, servers: known } = await listBarmanServers(options.barman, budgetOf(options, "recover"));
  if (options.servers !== "all") {
    const unknown = options.servers.filter((s) => !known.includes(s));
    if (unknown.length > 0)
      throw new NightlyInputError(
        `Barman in ${label} has no server named ${unknown.map((s) => `'${s}'`).join(", ")}; its servers: ${known.join(", ") || "(none)"}`,
      );
  }
  const wanted = options.servers === "all" ? known : [...new Set(options.servers)];
  if (wanted.length === 0) throw new NightlyInputError(`Barman in ${label} has no servers to verify (barman list-servers is empty)`);
  const shard = options.shard ?? { index: 1, count: 1 };
  const mine = serversOfShard(wanted, shard);
  options.progress(
    `${mine.length} of ${wanted.length} server(s) in shard ${shard.index}/${shard.count}: ${mine.join(", ") || "(none)"}; ${Math.min(options.concurrency, mine.length)} at a time`,
  );

  // One image per major version, resolved (built on first use) once even when servers ask together.
  // What every server's verification shares: the options without the fleet's own.
  const { servers: _servers, shard: _shard, concurrency: _concurrency, planFor: _planFor, progress: _progress, ...common } = options;
  const images = new Map<number, Promise<string>>();
  const recoveryImage = (major: number): Promise<string> => {
    if (!images.has(major)) images.set(major, options.recoveryImage(major));
    return images.get(major)!;
  };

  const servers = await mapWithConcurrency(mine, options.concurrency, async (server): Promise<NightlyResult> => {
    const plan = options.planFor(server);
    if (typeof plan === "string") return failedBeforeStart({ server, barman: label, target, reason: plan });
    if (options.signal?.aborted)
      return failedBeforeStart({ server, barman: label, target, reason: `interrupted (${String(options.signal.reason)}) before it started` });
    options.progress(`verifying ${options.backup} backup (${modeOf(target)})`, server);
    try {
      const result = await verifyExistingBackup({
        ...common,
        recoveryImage,
        server,
        target,
        checks: plan.checks,
        database: plan.database,
        builtInChecks: plan.builtInChecks,
        freshness: plan.freshness,
        recoveryPointQuery: plan.recoveryPointQuery,
        progress: (line) => options.progress(line, server),
      });
      options.progress(`${result.verdict.toUpperCase()}${result.failedPhase ? ` in ${result.failedPhase}` : ""}`, server);
      return result;
    } catch (error) {
      // Only what concerns this server alone reaches here (its backup id, its tablespaces): the host was reachable above.
      if (!(error instanceof NightlyInputError)) throw error;
      options.progress(`FAILED before it started: ${error.message}`, server);
      return failedBeforeStart({ server, barman: label, target, reason: error.message });
    }
  });
  return {
    schemaVersion: 2,
    runId: options.runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    barman: label,
    // An empty shard (more shards than servers) verified nothing and failed nothing.
    verdict: servers.every((s) => s.verdict === "pass") ? "pass" : "fail",
    shard: `${shard.index}/${shard.count}`,
    servers,
  };
}

/** "26h", "90m", "1h30m", "2d", "45s" or plain seconds: a duration in seconds. */
export function parseDurationS(text: string): number {
  const match = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim());
  if (!match || text.trim() === "" || !match.slice(1).some(Boolean)) throw new Error(`'${text}' is not a duration such as 26h, 90m, 1h30m, 2d or 3600`);
  const [d, h, m, sec] = match.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number];
  const total = d * 86400 + h * 3600 + m * 60 + sec;
  if (total <= 0) throw new Error(`'${text}' must be longer than zero`);
  return total;
}

/** What the command line sets for every server, over the configuration. */
export interface PlanOverrides {
  database?: string;
  amcheck?: boolean;
  pgDump?: boolean;
  freshness?: FreshnessObjectives;
}

/**
 * One server's plan from the configuration: config.nightly, with config.nightly.servers[server]
 * replacing it field by field, then the command line's settings over both.
 */
export function planFromConfig(config: { database?: string; nightly?: NightlyConfig }, server: string, overrides: PlanOverrides = {}): ServerPlan | string {
  const common = config.nightly ?? {};
  const own = common.servers?.[server] ?? {};
  const checks = own.checks ?? common.checks ?? [];
  const database = overrides.database ?? own.database ?? common.database ?? config.database;
  const builtInChecks = {
    amcheck: overrides.amcheck || (own.amcheck ?? common.amcheck ?? false),
    pgDump: overrides.pgDump || (own.pgDump ?? common.pgDump ?? false),
  };
  if (!database) return `no database to run the checks in: give --database, or config.database, or nightly.servers.${server}.database`;
  if (checks.length === 0 && !builtInChecks.amcheck && !builtInChecks.pgDump) {
    return `no checks for server '${server}': give nightly.checks or nightly.servers.${server}.checks, or switch on amcheck or pgDump (--amcheck, --pg-dump); a verification without checks proves nothing`;
  }
  return {
    checks,
    database,
    builtInChecks,
    freshness: { ...common.freshness, ...own.freshness, ...overrides.freshness },
    recoveryPointQuery: own.recoveryPointQuery ?? common.recoveryPointQuery,
  };
}
