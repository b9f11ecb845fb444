// Parsers for Barman's machine-readable output (`barman -f json ...`: 3.4, and the fields 3.11+
// renamed or added) and the few text lines that have no JSON form. Pure functions, unit-tested against output captured from real runs.
import { z } from "zod";
import { parsePgTimestamp } from "../support/pg-time.ts";

export class BarmanOutputError extends Error {
  constructor(command: string, problem: string, raw: string) {
    super(`Unexpected output from \`barman ${command}\`: ${problem}\n${raw.slice(0, 2000)}`);
    this.name = "BarmanOutputError";
  }
}

function parseJson<T>(command: string, raw: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new BarmanOutputError(command, "not JSON", raw);
  }
  // Barman adds its messages as top-level keys (_WARNING, _ERROR, _INFO: arrays of strings)
  // beside the servers; they are not servers.
  if (value && typeof value === "object" && !Array.isArray(value)) {
    value = Object.fromEntries(Object.entries(value).filter(([key]) => !key.startsWith("_")));
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new BarmanOutputError(command, z.prettifyError(parsed.error), raw);
  return parsed.data;
}

// --- barman check ---------------------------------------------------------------------------------
export interface CheckLine {
  check: string;
  ok: boolean;
  hint: string;
}
const checkSchema = z.record(z.string(), z.record(z.string(), z.object({ status: z.string(), hint: z.string() })));

/** `barman -f json check SERVER`: one line per check, in Barman's (alphabetical) order. */
export function parseCheck(raw: string, server: string): CheckLine[] {
  const byServer = parseJson("check", raw, checkSchema);
  const checks = byServer[server];
  if (!checks) throw new BarmanOutputError("check", `no result for server '${server}'`, raw);
  return Object.entries(checks).map(([check, { status, hint }]) => ({ check: check.replaceAll("_", " "), ok: status === "OK", hint }));
}

export function describeFailedChecks(lines: CheckLine[]): string {
  return lines
    .filter((l) => !l.ok)
    .map((l) => `${l.check}: FAILED${l.hint ? ` (${l.hint})` : ""}`)
    .join("; ");
}

// --- barman list-backup ---------------------------------------------------------------------------
export interface BackupListEntry {
  backupId: string;
  status: string;
  sizeBytes: number | undefined;
}
const listBackupSchema = z.record(z.string(), z.array(z.object({ backup_id: z.string(), status: z.string(), size_bytes: z.number().optional() }).loose()));

export function parseListBackup(raw: string, server: string): BackupListEntry[] {
  const byServer = parseJson("list-backup", raw, listBackupSchema);
  // Barman writes the server's key even with no backups ([]); a missing key is wrong output.
  const backups = byServer[server];
  if (!backups) throw new BarmanOutputError("list-backup", `no result for server '${server}'`, raw);
  return backups.map((b) => ({ backupId: b.backup_id, status: b.status, sizeBytes: b.size_bytes }));
}

// --- barman show-backup ---------------------------------------------------------------------------
export interface BackupDetails {
  backupId: string;
  status: string;
  beginTime: Date;
  endTime: Date;
  beginWal: string;
  endWal: string;
  beginLsn: string;
  endLsn: string;
  timeline: number;
  sizeBytes: number;
  postgresVersion: number;
  /** "full" or "incremental" since Barman 3.11 (PostgreSQL 17 incremental backups); undefined before. */
  backupType: string | undefined;
  /** The backup an incremental one builds on (Barman 3.11+); undefined for a full backup. */
  parentBackupId: string | undefined;
  /** "gpg" for a backup Barman encrypted (3.14+, base_backup_information.encryption); null otherwise or before. */
  encryption: string | null;
}
const showBackupSchema = z.record(
  z.string(),
  z
    .object({
      backup_id: z.string(),
      status: z.string(),
      postgresql_version: z.number(),
      base_backup_information: z
        .object({
          begin_time: z.string(),
          end_time: z.string(),
          begin_wal: z.string(),
          end_wal: z.string(),
          begin_lsn: z.string(),
          end_lsn: z.string(),
          timeline: z.number(),
          // Barman 3.4 says disk_usage_bytes; 3.11 renamed it backup_size_bytes.
          disk_usage_bytes: z.number().optional(),
          backup_size_bytes: z.number().optional(),
          encryption: z.string().nullish(),
        })
        .loose(),
      backup_type: z.string().optional(),
      catalog_information: z.object({ parent_backup_id: z.string().nullish() }).loose().optional(),
    })
    .loose(),
);

/** Barman prints times like "2026-11-25 08:26:25.161689+00:00" (Python isoformat with a space). */
export function parseBarmanTimestamp(text: string): Date {
  try {
    return parsePgTimestamp(text);
  } catch {
    throw new Error(`not a timestamp with a UTC offset: '${text}'`);
  }
}

export function parseShowBackup(raw: string, server: string): BackupDetails {
  const byServer = parseJson("show-backup", raw, showBackupSchema);
  const b = byServer[server];
  if (!b) throw new BarmanOutputError("show-backup", `no result for server '${server}'`, raw);
  const info = b.base_backup_information;
  const size = info.backup_size_bytes ?? info.disk_usage_bytes;
  if (size === undefined) throw new BarmanOutputError("show-backup", "no backup size (disk_usage_bytes before Barman 3.11, backup_size_bytes since)", raw);
  return {
    backupId: b.backup_id,
    status: b.status,
    beginTime: parseBarmanTimestamp(info.begin_time),
    endTime: parseBarmanTimestamp(info.end_time),
    beginWal: info.begin_wal,
    endWal: info.end_wal,
    beginLsn: info.begin_lsn,
    endLsn: info.end_lsn,
    timeline: info.timeline,
    sizeBytes: size,
    postgresVersion: b.postgresql_version,
    backupType: b.backup_type,
    parentBackupId: b.catalog_information?.parent_backup_id ?? undefined,
    encryption: info.encryption && info.encryption !== "None" ? info.encryption : null,
  };
}

// --- barman show-server ---------------------------------------------------------------------------
const showServerSchema = z.record(z.string(), z.object({ wals_directory: z.string(), basebackups_directory: z.string().optional() }).loose());

export function parseWalsDirectory(raw: string, server: string): string {
  const dir = parseJson("show-server", raw, showServerSchema)[server]?.wals_directory;
  if (!dir) throw new BarmanOutputError("show-server", `no wals_directory for server '${server}'`, raw);
  return dir;
}

/** Where Barman keeps the server's base backups (`basebackups_directory`). */
export function parseBaseBackupsDirectory(raw: string, server: string): string {
  const dir = parseJson("show-server", raw, showServerSchema)[server]?.basebackups_directory;
  if (!dir) throw new BarmanOutputError("show-server", `no basebackups_directory for server '${server}'`, raw);
  return dir;
}

const xlogDbDirectorySchema = z.record(z.string(), z.object({ wals_directory: z.string(), xlogdb_directory: z.string().nullish() }).loose());

/** Where Barman keeps the WAL catalogue (xlog.db): `xlogdb_directory` since 3.12, the WAL directory before. */
export function parseXlogDbDirectory(raw: string, server: string): string {
  const shown = parseJson("show-server", raw, xlogDbDirectorySchema)[server];
  const dir = shown?.xlogdb_directory ?? shown?.wals_directory;
  if (!dir) throw new BarmanOutputError("show-server", `no xlogdb_directory or wals_directory for server '${server}'`, raw);
  return dir;
}

/**
 * The newest WAL segment in Barman's catalogue (xlog.db: one line per archived file, "name size
 * time compression", the time in seconds since the epoch when Barman archived it), or undefined
 * for an empty archive. History and backup-label files are not segments and are skipped.
 */
export function newestArchivedSegment(xlogDbLines: string): { segment: string; archivedAt: Date } | undefined {
  let newest: { segment: string; archivedAt: Date } | undefined;
  for (const line of xlogDbLines.split("\n")) {
    const [name, , time] = line.trim().split(/\s+/);
    const seconds = Number(time);
    if (!name || !isWalSegmentName(name) || !Number.isFinite(seconds)) continue;
    if (!newest || seconds * 1000 >= newest.archivedAt.getTime()) newest = { segment: name, archivedAt: new Date(seconds * 1000) };
  }
  return newest;
}

// --- barman backup / recover (text only) ------------------------------------------------------------
/** `barman backup` announces the id in "Starting backup using postgres method for server X in .../base/<id>". */
export function parseBackupId(output: string): string {
  const match = /Starting backup using \S+ method for server \S+ in \S*\/base\/(\d{8}T\d{6})/.exec(output);
  if (!match?.[1]) throw new BarmanOutputError("backup", "no backup id announced", output);
  return match[1];
}

export const RECOVERY_PREPARED = "Your PostgreSQL server has been successfully prepared for recovery!";
export function recoverSucceeded(output: string): boolean {
  return output.includes(RECOVERY_PREPARED);
}

// --- WAL segment names --------------------------------------------------------------------------------
const SEGMENT = /^[0-9A-F]{24}$/;
export function isWalSegmentName(name: string): boolean {
  return SEGMENT.test(name);
}
/** Timeline of a segment name (its first 8 hex digits). */
export function segmentTimeline(name: string): number {
  if (!isWalSegmentName(name)) throw new Error(`not a WAL segment name: '${name}'`);
  return parseInt(name.slice(0, 8), 16);
}
/** Barman stores a segment under wals/<first 16 hex digits>/<segment>. */
export function archivedSegmentPath(walsDirectory: string, segment: string): string {
  // A timeline history file (00000002.history) sits at the top of the archive, as Barman's hash_dir has it.
  if (/^[0-9A-F]{8}\.history$/.test(segment)) return `${walsDirectory}/${segment}`;
  if (!isWalSegmentName(segment)) throw new Error(`not a WAL segment name: '${segment}'`);
  return `${walsDirectory}/${segment.slice(0, 16)}/${segment}`;
}
/** Segments on one timeline sort by name; compare position ignoring the timeline. */
export function compareSegmentPosition(a: string, b: string): number {
  if (!isWalSegmentName(a) || !isWalSegmentName(b)) throw new Error(`not WAL segment names: '${a}', '${b}'`);
  return a.slice(8).localeCompare(b.slice(8));
}

/**
 * Every segment name from `from` through `through` on one timeline, in order. With the default
 * 16 MiB segments a "log file" (the middle 8 hex digits) holds 256 segments.
 */
export function walSegmentRange(from: string, through: string, segmentsPerLogFile = 256): string[] {
  if (segmentTimeline(from) !== segmentTimeline(through)) {
    throw new Error(`WAL segments ${from} and ${through} are on different timelines: name a range on one timeline`);
  }
  const position = (name: string): number => parseInt(name.slice(8, 16), 16) * segmentsPerLogFile + parseInt(name.slice(16), 16);
  const first = position(from);
  const last = position(through);
  if (last < first) throw new Error(`WAL segment ${through} comes before ${from}`);
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(8, "0");
  const names: string[] = [];
  for (let p = first; p <= last; p++) names.push(`${from.slice(0, 8)}${hex(Math.floor(p / segmentsPerLogFile))}${hex(p % segmentsPerLogFile)}`);
  return names;
}
