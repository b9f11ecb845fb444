// Prometheus output of the nightly verification: a FleetReport as metrics, either as a textfile for
// node_exporter's textfile collector (written atomically, carrying the last success forward) or
// pushed to a Pushgateway, one group per server. The metrics are rendered with prom-client, each
// time into a fresh Registry (never the global one, which other code in the process may fill).
//
// The metrics, all gauges, labelled server (Barman's name for the PostgreSQL server) and barman
// (the endpoint as reached, "container NAME" or "SSH user@host"):
//   pgdrill_nightly_last_run_timestamp_seconds        end of tonight's verification of the server
//   pgdrill_nightly_last_success_timestamp_seconds    end of the last verification that passed
//   pgdrill_nightly_success                           1 passed, 0 failed
//   pgdrill_nightly_phase_duration_seconds{phase}     verify, restore, transfer, start, checks; phases that ran
//   pgdrill_nightly_duration_seconds                  the whole verification of the server
//   pgdrill_nightly_backup_age_seconds                age of the verified backup's end at the run's start
//   pgdrill_nightly_wal_age_seconds                   age of the newest archived WAL at the run's start
//   pgdrill_nightly_recovery_point_age_seconds        age of the newest commit recovered (RPO as of tonight)
//   pgdrill_nightly_backup_end_timestamp_seconds      }
//   pgdrill_nightly_newest_wal_timestamp_seconds      } the same three instants as timestamps
//   pgdrill_nightly_recovery_point_timestamp_seconds  }
//   pgdrill_nightly_backup_size_bytes                 Barman's size of the verified backup
//   pgdrill_nightly_transferred_bytes                 bytes streamed into the throwaway instance
//   pgdrill_nightly_checks                            checks run
//   pgdrill_nightly_checks_failed                     checks run that failed
//   pgdrill_nightly_backup_info{backup_id,postgres_major,mode} = 1
//   pgdrill_nightly_backup_verification{state,reason}  a state set: 1 for tonight's state of the backup's
//       files against their manifest (verified, damaged, not_verified), 0 for the others; reason says
//       why not verified (no_manifest, pg_verifybackup_missing, not_reached), "" otherwise. A backup
//       that could not be checked is never counted as damaged, and success stays the one verdict.
// Additions to the list we started from: the three *_timestamp_seconds beside the ages. An age is
// true at the run's start only and goes stale between nights; a timestamp lets an alert say
// `time() - pgdrill_nightly_recovery_point_timestamp_seconds > 86400` and stay true all day
// (Prometheus' own advice: export when something happened, not the time since). A value that is
// not known (null: the run stopped before it could be read) is left out, never written as 0 or NaN.
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Gauge, Pushgateway, Registry } from "prom-client";
import type { FleetReport } from "./fleet-report.ts";
import type { NightlyPhasesMs, NightlyResult } from "./nightly-result.ts";

const METRICS = {
  lastRun: {
    name: "pgdrill_nightly_last_run_timestamp_seconds",
    help: "Unix time at which the last nightly verification of this server ended, passed or failed.",
  },
  lastSuccess: {
    name: "pgdrill_nightly_last_success_timestamp_seconds",
    help: "Unix time at which the last nightly verification of this server that passed ended; kept across failed nights.",
  },
  success: {
    name: "pgdrill_nightly_success",
    help: "1 when the last nightly verification of this server passed (backup verified, recovered, started, every check passed), else 0.",
  },
  phaseDuration: {
    name: "pgdrill_nightly_phase_duration_seconds",
    help: "Duration of one phase of the last nightly verification: verify (barman verify-backup), restore (barman recover), transfer, start (until promoted), checks. Phases that did not run are absent.",
  },
  duration: {
    name: "pgdrill_nightly_duration_seconds",
    help: "Duration of the whole last nightly verification of this server.",
  },
  backupAge: {
    name: "pgdrill_nightly_backup_age_seconds",
    help: "Age of the verified backup (its end time in Barman's metadata) when the verification started.",
  },
  walAge: {
    name: "pgdrill_nightly_wal_age_seconds",
    help: "Age of the newest WAL segment in the Barman archive when the verification started.",
  },
  recoveryPointAge: {
    name: "pgdrill_nightly_recovery_point_age_seconds",
    help: "Age of the newest commit the recovered instance held (the recovery point) when the verification started.",
  },
  backupEnd: {
    name: "pgdrill_nightly_backup_end_timestamp_seconds",
    help: "Unix time at which the verified backup ended (Barman's metadata).",
  },
  newestWal: {
    name: "pgdrill_nightly_newest_wal_timestamp_seconds",
    help: "Unix time of the newest WAL segment in the Barman archive, as read by the last verification.",
  },
  recoveryPoint: {
    name: "pgdrill_nightly_recovery_point_timestamp_seconds",
    help: "Unix time of the newest commit the recovered instance held (the recovery point).",
  },
  backupSize: {
    name: "pgdrill_nightly_backup_size_bytes",
    help: "Size of the verified backup according to Barman.",
  },
  transferred: {
    name: "pgdrill_nightly_transferred_bytes",
    help: "Bytes streamed from the Barman server into the throwaway instance.",
  },
  checks: {
    name: "pgdrill_nightly_checks",
    help: "Checks run on the recovered instance (queries, pg_amcheck, pg_dump).",
  },
  checksFailed: {
    name: "pgdrill_nightly_checks_failed",
    help: "Checks run on the recovered instance that failed.",
  },
  backupInfo: {
    name: "pgdrill_nightly_backup_info",
    help: "The backup the last nightly verification used: its id, PostgreSQL major version and restore mode. Always 1.",
  },
  backupVerification: {
    name: "pgdrill_nightly_backup_verification",
    help: "State set: 1 for the state of the backup's files against their manifest in the last verification (verified, damaged, not_verified), 0 for the others; reason says why not verified.",
  },
} as const satisfies Record<string, { name: string; help: string }>;

type MetricKey = keyof typeof METRICS;

/** Every metric's name, in the order they are written. */
export const NIGHTLY_METRIC_NAMES: readonly string[] = Object.values(METRICS).map((m) => m.name);

/** The phase label's values, each from one field of NightlyPhasesMs. */
const PHASES: ReadonlyArray<[phase: string, field: keyof NightlyPhasesMs]> = [
  ["verify", "verifyBackupMs"],
  ["restore", "barmanRecoverMs"],
  ["transfer", "transferMs"],
  ["start", "instanceStartUntilPromotedMs"],
  ["checks", "verificationMs"],
];

/** The states of pgdrill_nightly_backup_verification (BackupVerification's verdicts, as label values). */
export const BACKUP_VERIFICATION_STATES = ["verified", "damaged", "not_verified"] as const;

interface Sample {
  metric: MetricKey;
  labels: Record<string, string>;
  value: number;
}

/** Milliseconds as seconds to the millisecond: the monotonic clock's float noise (0.7001341149999999) says nothing. */
const msToSeconds = (ms: number): number => Math.round(ms) / 1000;
const unixSeconds = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) / 1000 : null);

/** One server's samples; `lastSuccess` is tonight's end when it passed, else what was carried forward. */
function serverSamples(result: NightlyResult, lastSuccess: number | undefined): Sample[] {
  const identity = { server: result.server, barman: result.barman };
  const samples: Sample[] = [];
  // Unknown values (null, undefined, an unreadable time) are left out rather than written as 0.
  const add = (metric: MetricKey, value: number | null | undefined, labels: Record<string, string> = {}): void => {
    if (value !== null && value !== undefined && Number.isFinite(value)) samples.push({ metric, labels: { ...identity, ...labels }, value });
  };
  const passed = result.verdict === "pass";
  const fresh = result.freshness;
  add("lastRun", unixSeconds(result.finishedAt));
  add("lastSuccess", passed ? unixSeconds(result.finishedAt) : lastSuccess);
  add("success", passed ? 1 : 0);
  for (const [phase, field] of PHASES) {
    const ms = result.phasesMs[field];
    add("phaseDuration", ms === null ? null : msToSeconds(ms), { phase });
  }
  add("duration", msToSeconds(result.totalMs));
  add("backupAge", fresh.backupAgeS);
  add("walAge", fresh.newestWalAgeS);
  add("recoveryPointAge", fresh.recoveryPointAgeS);
  add("backupEnd", unixSeconds(fresh.backupEndTime ?? result.backupEndTime));
  add("newestWal", unixSeconds(fresh.newestWalTime));
  add("recoveryPoint", unixSeconds(fresh.recoveryPointTime));
  add("backupSize", result.backupSizeBytes);
  add("transferred", result.transferredBytes);
  add("checks", result.checks.length);
  add("checksFailed", result.checks.filter((check) => !check.ok).length);
  if (result.backupId !== undefined) {
    add("backupInfo", 1, { backup_id: result.backupId, postgres_major: result.postgresMajor?.toString() ?? "", mode: result.mode });
  }
  const state = result.backupVerification.verdict.replace(" ", "_");
  const reason = (result.backupVerification.reason ?? "").replaceAll(" ", "_");
  for (const each of BACKUP_VERIFICATION_STATES) add("backupVerification", each === state ? 1 : 0, { state: each, reason: each === state ? reason : "" });
  return samples;
}

/** A fresh Registry holding `samples`, without the labels in `dropLabels` (the Pushgateway's grouping key adds those). */
function registryOf(samples: Sample[], dropLabels: readonly string[] = []): Registry {
  const registry = new Registry();
  for (const key of Object.keys(METRICS) as MetricKey[]) {
    const own = samples.filter((s) => s.metric === key);
    if (own.length === 0) continue;
    const labelSets = own.map((s) => Object.fromEntries(Object.entries(s.labels).filter(([name]) => !dropLabels.includes(name))));
    const labelNames = [...new Set(labelSets.flatMap((labels) => Object.keys(labels)))];
    const gauge = new Gauge({ ...METRICS[key], labelNames, registers: [registry] });
    own.forEach((sample, i) => {
      gauge.set(labelSets[i]!, sample.value);
    });
  }
  return registry;
}

const identityKey = (server: string, barman: string): string => JSON.stringify([server, barman]);

interface ReadSample {
  labels: Record<string, string>;
  value: number;
}

/** One sample line of `metricName`: labels unescaped; undefined for another metric or a line that does not parse. */
function readSampleLine(line: string, metricName: string): ReadSample | undefined {
  if (!line.startsWith(metricName)) return undefined;
  let at = metricName.length;
  const labels: Record<string, string> = {};
  if (line[at] === "{") {
    at += 1;
    for (;;) {
      while (line[at] === " " || line[at] === ",") at += 1;
      if (line[at] === "}") {
        at += 1;
        break;
      }
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(line.slice(at))?.[0];
      if (!name || line[at + name.length] !== "=" || line[at + name.length + 1] !== '"') return undefined;
      at += name.length + 2;
      let value = "";
      while (at < line.length && line[at] !== '"') {
        // The format's three escapes: \\, \" and \n.
        if (line[at] === "\\") {
          const next = line[at + 1];
          value += next === "n" ? "\n" : (next ?? "");
          at += 2;
        } else {
          value += line[at];
          at += 1;
        }
      }
      if (line[at] !== '"') return undefined;
      at += 1;
      labels[name] = value;
    }
  } else if (line[at] !== " " && line[at] !== "\t") {
    return undefined; // a longer name that starts with this one
  }
  const value = Number(line.slice(at).trim().split(/\s+/)[0]);
  return Number.isFinite(value) ? { labels, value } : undefined;
}

/**
 * The samples of one metric in a text exposition (labels in any order, a timestamp after the value
 * allowed); samples that do not parse or whose value is not a finite number are skipped.
 */
export function readSamples(text: string, metricName: string): ReadSample[] {
  return text.split("\n").flatMap((line) => readSampleLine(line, metricName) ?? []);
}

/**
 * The FleetReport as Prometheus text (exposition format 0.0.4). `previous` is the text this
 * function wrote the night before (the textfile's old content): a server that failed tonight keeps
 * the last-success timestamp found there, so a failed night never erases the last success.
 */
export async function renderNightlyMetrics(report: FleetReport, previous?: string): Promise<string> {
  const carried = new Map<string, number>();
  for (const sample of previous ? readSamples(previous, METRICS.lastSuccess.name) : []) {
    const { server, barman } = sample.labels;
    if (server !== undefined && barman !== undefined) carried.set(identityKey(server, barman), sample.value);
  }
  const samples = report.servers.flatMap((result) => serverSamples(result, carried.get(identityKey(result.server, result.barman))));
  return registryOf(samples).metrics();
}

/**
 * Writes `text` to `path` so that a reader (node_exporter's textfile collector) sees either the old
 * file or the new one, never half of one: a temporary file in the same directory (same file system,
 * so rename is atomic; its name does not end in .prom, so the collector ignores it), fsync, rename
 * over the target, fsync of the directory so the rename survives a crash.
 */
export async function writeTextfileAtomically(path: string, text: string): Promise<void> {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const file = await open(temporary, "wx", 0o644);
  try {
    try {
      // node_exporter usually runs as another user: readable by all, whatever this process's umask.
      await file.chmod(0o644);
      await file.writeFile(text, "utf8");
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  const dir = await open(directory, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The textfile's current content, undefined when there is none yet. */
export async function readTextfile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Renders `report` carrying the last successes forward from the textfile at `path`, and replaces that file atomically. Returns the text written. */
export async function writeNightlyTextfile(path: string, report: FleetReport): Promise<string> {
  const text = await renderNightlyMetrics(report, await readTextfile(path));
  await writeTextfileAtomically(path, text);
  return text;
}

// --- Pushgateway -----------------------------------------------------------------------------------

/** The Pushgateway's job label for every group. */
export const PUSHGATEWAY_JOB = "pgdrill_nightly";
/** Budget of one push (one server's group): connecting, sending, the Pushgateway's answer. */
export const PUSHGATEWAY_PUSH_BUDGET_DEFAULT_MS = 30_000;

export interface PushOptions {
  /** Time budget of each server's push; default PUSHGATEWAY_PUSH_BUDGET_DEFAULT_MS. */
  budgetMs?: number;
  progress?: (line: string) => void;
}

export interface PushedGroup {
  server: string;
  barman: string;
  /** PUT replaced the whole group (the server passed); POST replaced only the metrics sent (it failed). */
  method: "PUT" | "POST";
  /** The group's URL, credentials masked. */
  url: string;
}

/** The Pushgateway refused a push, could not be reached, or did not answer in time; the message is one line. */
export class PushgatewayError extends Error {
  constructor(
    message: string,
    /** The HTTP status when the Pushgateway answered with one. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "PushgatewayError";
  }
}

/** `url` with any user:password@ replaced by ***@, for messages and logs. */
export function maskCredentials(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/, "$1***@");
}

const oneLine = (text: string, limit = 300): string => {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > limit ? `${line.slice(0, limit)}…` : line;
};

/**
 * A grouping label's path segment: as is, or base64url with "@base64" after the name when the value
 * holds a "/" or is empty (the Pushgateway would read a "/" as a separator, %2F included).
 */
function groupingEntry(name: string, value: string): [string, string] {
  return value === "" || value.includes("/") ? [`${name}@base64`, Buffer.from(value).toString("base64url") || "="] : [name, value];
}

/**
 * Pushes each server's metrics to the Pushgateway at `url` as its own group, grouping key
 * job="pgdrill_nightly", server, barman. The Pushgateway sets a grouping label on every metric of
 * the group, overwriting a pushed label of that name without a word; so server and barman are
 * left out of the pushed metrics and come from the grouping key alone (one source, no clash).
 *
 * A server that passed is pushed with PUT (prom-client's push): the group becomes exactly
 * tonight's metrics. A server that failed is pushed with POST (pushAdd), which replaces only the
 * metric names sent, and without the last-success timestamp: the Pushgateway keeps the one from the
 * last night that passed. The flip side of POST: a metric with no value tonight (a phase family when
 * no phase ran, ages or sizes not read) is not sent, so the group keeps its value from an earlier
 * push; pgdrill_nightly_success = 0 and pgdrill_nightly_last_run_timestamp_seconds say which night it is.
 *
 * Servers are pushed one after another; the first failure stops the rest and throws a
 * PushgatewayError of one line naming the group's URL (credentials masked), the HTTP status and the
 * Pushgateway's answer, or why it could not be reached.
 */
export async function pushToPushgateway(url: string, report: FleetReport, options: PushOptions = {}): Promise<PushedGroup[]> {
  const budgetMs = options.budgetMs ?? PUSHGATEWAY_PUSH_BUDGET_DEFAULT_MS;
  const base = url.replace(/\/+$/, "");
  const masked = maskCredentials(base);
  const protocol = URL.parse(base)?.protocol;
  if (protocol !== "http:" && protocol !== "https:") {
    throw new PushgatewayError(`Pushgateway URL "${masked}" is not an http(s) URL; expected e.g. http://pushgateway:9091`);
  }
  const pushed: PushedGroup[] = [];
  for (const result of report.servers) {
    const passed = result.verdict === "pass";
    const method = passed ? "PUT" : "POST";
    const samples = serverSamples(result, undefined).filter((s) => passed || s.metric !== "lastSuccess");
    const registry = registryOf(samples, ["server", "barman"]);
    const groupings = Object.fromEntries([groupingEntry("server", result.server), groupingEntry("barman", result.barman)]);
    const groupPath = `/metrics/job/${PUSHGATEWAY_JOB}${Object.entries(groupings)
      .map(([name, value]) => `/${encodeURIComponent(name)}/${encodeURIComponent(value)}`)
      .join("")}`;
    const groupUrl = `${masked}${groupPath}`;
    const what = `${method} ${groupUrl} (server "${result.server}")`;
    const signal = AbortSignal.timeout(budgetMs);
    const gateway = new Pushgateway(base, { signal }, registry);
    try {
      const params = { jobName: PUSHGATEWAY_JOB, groupings };
      await (passed ? gateway.push(params) : gateway.pushAdd(params));
    } catch (error) {
      const message = (error as Error).message;
      const refused = /^push failed with status (\d+), ([\s\S]*)$/.exec(message);
      const done = pushed.length > 0 ? `; ${pushed.length} of ${report.servers.length} servers pushed before it` : "";
      if (refused) {
        const status = Number(refused[1]);
        throw new PushgatewayError(`Pushgateway refused ${what}: HTTP ${status}: ${oneLine(refused[2] ?? "") || "(empty body)"}${done}`, status);
      }
      if (signal.aborted) {
        throw new PushgatewayError(`Pushgateway did not answer ${what} within ${budgetMs / 1000} s (push budget)${done}`);
      }
      const code = (error as NodeJS.ErrnoException).code;
      throw new PushgatewayError(
        `Pushgateway cannot be reached for ${what}: ${oneLine(code && !message.includes(code) ? `${code} ${message}` : message)}${done}`,
      );
    }
    pushed.push({ server: result.server, barman: result.barman, method, url: groupUrl });
    options.progress?.(`pushed server "${result.server}" to ${groupUrl} (${passed ? "PUT: the whole group" : "POST: all but the last success"})`);
  }
  return pushed;
}
