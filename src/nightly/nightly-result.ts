// What a nightly verification of one server produces, and what it is given: the shapes every
// output (summary, JSON, JUnit, Allure, Prometheus) reads, and the input errors that exit 2.
// No I/O here: src/nightly/verify-existing.ts fills these in.
import type { BackupStorage, WalCoverage } from "../../containers/barman/barman-client.ts";
import type { SshTarget } from "../../containers/barman/ssh-transport.ts";
import type { RecoveryTarget } from "../barman/recovery-target.ts";
import type { DrillSettings } from "../drill/config.ts";
import type { CauseClass } from "./cause.ts";
import type { ConfigChange } from "./throwaway-config.ts";

export interface NightlyCheck {
  name: string;
  sql: string;
  /** Rows the query must return, each row as the array of its column values (JSON types). */
  expected: unknown[][];
}

/** Where the existing Barman server is: a container on this Docker engine, or a host over SSH. */
export type BarmanEndpoint = { container: string } | { ssh: SshTarget };

/**
 * A verification host of the user's own: `barman restore --remote-ssh-command` puts the restored
 * copy there (so the Barman host needs no room for it), and this command reaches the same host
 * over SSH to make, stream and remove the temporary directory.
 */
export interface VerificationHost {
  /** How this command reaches the host (the OpenSSH client, strict host keys). */
  ssh: SshTarget;
  /** How the Barman host reaches it: Barman's own --remote-ssh-command, e.g. "ssh postgres@verify-host". */
  remoteSshCommand: string;
}

/** A remote SSH command Barman can run: ssh, options and a destination, nothing a shell would read otherwise. */
export function validateRemoteSshCommand(command: string): string | undefined {
  return /^ssh( [A-Za-z0-9@._:=/-]+)+$/.test(command) && !/ -o *ProxyCommand/i.test(command)
    ? undefined
    : `'${command}' is not an SSH command such as "ssh postgres@verify-host" (ssh, its options and a destination; no quotes or shell characters)`;
}

export interface VerifyExistingOptions {
  /** The existing Barman server. */
  barman: BarmanEndpoint;
  /** Barman's name for the PostgreSQL server (its section in barman.conf). */
  server: string;
  /** "latest": the newest DONE backup; otherwise a backup id such as 20261125T082625. */
  backup: "latest" | string;
  /**
   * Default { kind: "latest" }: every WAL segment archived after the backup is replayed, which
   * proves the WAL stream as well as the base backup. { kind: "immediate" } is the quicker,
   * backup-only check.
   */
  target?: RecoveryTarget;
  /** The user's checks (nightly.checks); may be empty when a built-in check is on. */
  checks: NightlyCheck[];
  /** Built-in checks of the recovered instance, each timed: pg_amcheck --heapallindexed over every database, a full pg_dump of every database to nowhere. */
  builtInChecks?: { amcheck?: boolean; pgDump?: boolean };
  /** How old the backup, the newest archived WAL and the recovered data may be (seconds); older fails the server. */
  freshness?: FreshnessObjectives;
  /**
   * SQL returning one timestamp with time zone: the newest commit the recovered data holds, for
   * servers without track_commit_timestamp (e.g. SELECT max(created_at) FROM orders).
   */
  recoveryPointQuery?: string;
  /** Database the checks run in, on the recovered instance. */
  database: string;
  /** Role the checks run as (local trust on the throwaway instance; no password needed). Default "postgres". */
  dbUser?: string;
  /**
   * The throwaway instance's image for the backup's PostgreSQL major version, read from Barman's
   * metadata (src/nightly/recovery-image.ts); throws a one-line refusal for a version it cannot start.
   */
  recoveryImage: (postgresMajor: number) => Promise<string>;
  /** Names the temporary directory and the throwaway container; letters, digits, - and _. */
  runId: string;
  /** Labels of the throwaway container (runLabels), for reaping. */
  labels: Record<string, string>;
  budgetsMs: DrillSettings["budgetsMs"];
  /** RTO objectives of the recovery phases (the drill's own): a verification slower than them fails. */
  objectives?: DrillSettings["objectives"];
  /** Parent of the temporary directory on the Barman server, or on the verification host (default /var/tmp): needs room for one full copy. */
  workParent?: string;
  /** Restore to this host instead of the Barman server (barman restore --remote-ssh-command). */
  verificationHost?: VerificationHost;
  progress: (line: string) => void;
  /**
   * Stops at the next phase boundary (then cleans up as usual). A command already running on the
   * Barman server is let finish, since docker exec cannot stop it and it would write on into a
   * directory we removed.
   */
  signal?: AbortSignal;
}

export interface FreshnessObjectives {
  /** The verified backup may be at most this old. */
  maxBackupAgeS?: number;
  /** The newest WAL segment in Barman's archive may be at most this old: WAL archiving is alive. */
  maxWalAgeS?: number;
  /** The newest commit the recovered instance holds may be at most this old: the recovery point objective, tonight. */
  maxRecoveryPointAgeS?: number;
}

/** "1d 2h 3m", "4m 5s", "12s": an age as a person reads it. */
export function describeAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const parts = [
    [Math.floor(s / 86400), "d"],
    [Math.floor((s % 86400) / 3600), "h"],
    [Math.floor((s % 3600) / 60), "m"],
    [s % 60, "s"],
  ] as const;
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return "0s";
  return parts
    .slice(first, first + 3)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n}${unit}`)
    .join(" ");
}

/** Why a verification could not even be attempted: something the user named does not exist. */
export class NightlyInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NightlyInputError";
  }
}

export type NightlyPhase =
  | "backup selection"
  | "backup verification"
  | "WAL verification"
  | "barman recover"
  | "transfer"
  | "instance start"
  | "verification"
  | "freshness"
  | "objectives"
  | "clean-up";

export interface NightlyPhasesMs {
  /** Each phase on the monotonic clock; null when the run stopped before it. */
  verifyBackupMs: number | null;
  barmanRecoverMs: number | null;
  /** tar of the recovered directory on the Barman server into the throwaway container. */
  transferMs: number | null;
  instanceStartUntilPromotedMs: number | null;
  verificationMs: number | null;
}

export interface NightlyCheckResult {
  name: string;
  /** A check of nightly.checks (a query and its expected rows), or a built-in one: pg_amcheck, a full pg_dump read, pg_checksums over every page. */
  kind: "query" | "amcheck" | "pg_dump" | "pg_checksums";
  ok: boolean;
  expected: unknown[][];
  /** The rows the recovered instance returned; null when the query itself failed. */
  actual: unknown[][] | null;
  /** psql's words when the query failed. */
  error?: string;
  durationMs: number;
}

/**
 * How fresh what was verified is, as ages against the run's start (wall clock, the one clock the
 * Barman server's and PostgreSQL's timestamps share with us). null: not known (the run stopped
 * before it could be read, or the source has no such time).
 */
export interface NightlyFreshness {
  /** The instant every age is measured against: this server's verification start, ISO 8601. */
  measuredAt: string;
  /** The verified backup's end (Barman's metadata) and its age. */
  backupEndTime: string | null;
  backupAgeS: number | null;
  /** The newest WAL segment in the Barman archive (Barman's last archived time) and its age. */
  newestWalTime: string | null;
  newestWalAgeS: number | null;
  /** The newest commit the recovered instance holds, and its age: the recovery point (RPO as of tonight). */
  recoveryPointTime: string | null;
  recoveryPointAgeS: number | null;
  /** Where the recovery point came from: pg_last_committed_xact() (track_commit_timestamp) or the user's query. */
  recoveryPointSource: "pg_last_committed_xact" | "query" | "pg_last_xact_replay_timestamp" | null;
}

/** Freshness before anything was read: every time and age unknown. */
export function unknownFreshness(measuredAt: string): NightlyFreshness {
  return {
    measuredAt,
    backupEndTime: null,
    backupAgeS: null,
    newestWalTime: null,
    newestWalAgeS: null,
    recoveryPointTime: null,
    recoveryPointAgeS: null,
    recoveryPointSource: null,
  };
}

/**
 * Whether the backup's files were checked against its manifest, and by whom. Only a real mismatch
 * is "damaged"; a backup that could not be checked (no manifest, no pg_verifybackup where Barman
 * looks, a format Barman cannot verify) is "not verified", with its own sentence: never damage.
 */
export interface BackupVerification {
  verdict: "verified" | "damaged" | "not verified";
  /** "barman verify-backup" on the Barman host, "pg_verifybackup on the restored copy" in the throwaway instance, or null. */
  by: "barman verify-backup" | "pg_verifybackup on the restored copy" | null;
  /** Why it was not verified (a metric label): no manifest, pg_verifybackup missing, a format or encryption Barman cannot verify, not reached. */
  reason: NotVerifiedReason | null;
  /** One sentence a DBA reads. */
  sentence: string;
}

/** Why a backup's files were not checked against a manifest: never a verdict on the backup. */
export type NotVerifiedReason = "no manifest" | "pg_verifybackup missing" | "format" | "encrypted" | "not reached";

/** What was restored: every archived WAL after the backup (the default), the backup alone, or a target. */
export type NightlyMode = "full WAL replay" | "backup only" | "target";

export interface NightlyResult {
  verdict: "pass" | "fail";
  /** Wall-clock start and end of this server's verification, ISO 8601. */
  startedAt: string;
  finishedAt: string;
  mode: NightlyMode;
  /** The backup's PostgreSQL major version (Barman's metadata); undefined when no backup was selected. */
  postgresMajor: number | undefined;
  freshness: NightlyFreshness;
  /** Bytes streamed from the Barman server into the throwaway instance; null when the transfer did not finish. */
  transferredBytes: number | null;
  /** The Barman server as reached: "container NAME" or "SSH user@host[ port N]". */
  barman: string;
  server: string;
  /** Resolved id (also for "latest"); undefined when no usable backup was found. */
  backupId: string | undefined;
  backupEndTime?: string;
  backupSizeBytes?: number;
  target: RecoveryTarget;
  /** The temporary directory on the Barman server (removed at the end; a problem says so if not). */
  workDirectory: string | undefined;
  phasesMs: NightlyPhasesMs;
  totalMs: number;
  checks: NightlyCheckResult[];
  /** One sentence per failure, naming the phase, the server, the backup and the server's own words. */
  problems: string[];
  /** The phase of the first problem: what to look at first. */
  failedPhase: NightlyPhase | undefined;
  /** Stopped early on request (options.signal): the failure says nothing about the backup. */
  interrupted: boolean;
  /** Every command run on the Barman server, with its exit code and (bounded) output: the evidence of what we did there. */
  barmanCommands: Array<{ command: string; exitCode: number; durationMs: number; output?: string }>;
  backupVerification: BackupVerification;
  /** The WAL the restore needs, checked in Barman's archive before it; null when not reached. */
  walContinuity: WalCoverage | null;
  /** How the backup is kept (plain or tar, compression, manifest); null when not read. */
  storage: BackupStorage | null;
  /** Every setting of the backup's configuration the throwaway instance changed, and why. */
  configurationChanges: ConfigChange[];
  /** Work directories of dead runs removed before this one started. */
  swept: Array<{ directory: string; why: string }>;
  /** The class of the first problem's cause (disk full, ssh, ...): chooses the Action line. */
  cause: CauseClass | null;
}

export const notReachedVerification = (): BackupVerification => ({
  verdict: "not verified",
  by: null,
  reason: "not reached",
  sentence: "the verification stopped before the backup's files were checked",
});

/** A result's evidence before anything was found: nothing verified, read, changed or swept. */
export const noEvidence = (): Pick<NightlyResult, "backupVerification" | "walContinuity" | "storage" | "configurationChanges" | "swept" | "cause"> => ({
  backupVerification: notReachedVerification(),
  walContinuity: null,
  storage: null,
  configurationChanges: [],
  swept: [],
  cause: null,
});
